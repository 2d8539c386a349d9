"""What ``@conda`` asks rattler for: the channels (the profile's, then the decorator's)
and the match specs (the decorator's packages and Python), checked before anything
reaches the solver, and the virtual packages of the target platform.

Version specs follow Metaflow's ``@conda``: ``"0.22.0"`` means exactly that version
(``==0.22.0``), a spec starting with an operator (``>=1.2``, ``<2``, ``!=1.3``,
``~=1.4``, ``==1.5``, conda's ``=1.6`` meaning ``1.6.*``) is used as is, a glob
(``1.7.*``) too, and ``""`` is any version. ``python="3.11"`` asks for ``python
3.11.*``, ``python="3.11.7"`` for ``python ==3.11.7``. No ``python``: the manager
passes the running interpreter's exact x.y.z; a ``python`` in the packages (x.y,
x.y.z or a range) is used instead (both given is an error).

Only this module and :mod:`grange.environments.conda` import ``rattler``, and only
when a conda environment is resolved or built (``grange[conda]``).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from grange.decorators.options import EnvSpec
from grange.environments.settings import EnvSettings
from grange.exceptions import EnvError

ANACONDA = "https://conda.anaconda.org"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")
# A version spec and an optional build string after one space; no brackets, quotes,
# channels (::), URLs or line breaks: nothing but a version can get through.
_VERSION = re.compile(r"[A-Za-z0-9_.*+!<>=~,|\-]*( [A-Za-z0-9_.*]+)?\Z")
_OPERATORS = ("==", ">=", "<=", "!=", "~=", ">", "<", "=")
_CHANNEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*(/[A-Za-z0-9_][A-Za-z0-9_.\-]*)*\Z")
_SCHEMES = ("http", "https", "file")
_UNREAD = ("s3", "gcs", "oci")  # channel URLs py-rattler's gateway cannot read here
_PATH_PREFIXES = ("/", "./", "../", "~")


def rattler_module() -> Any:
    """``rattler``, or the EnvError saying how to install it."""
    try:
        import rattler
    except ImportError:
        raise EnvError(
            "@conda needs py-rattler: pip install 'grange[conda]'",
            fix="pip install 'grange[conda]' (or pip install py-rattler)",
        ) from None
    if not hasattr(rattler, "Subdir"):  # py-rattler before 0.28 (its API changed there)
        raise EnvError(
            "@conda needs py-rattler 0.28 or later; this one is too old",
            fix="pip install -U 'grange[conda]'",
        )
    return rattler


def where(spec: EnvSpec) -> dict[str, Any]:
    """The place of ``spec`` for an EnvError (file, line, step)."""
    return {"file": spec.file, "line": spec.line, "step": spec.step or None}


def decorator(spec: EnvSpec) -> str:
    return spec.decorator or "@conda"


def channel_urls(spec: EnvSpec, settings: EnvSettings) -> list[str]:
    """The channels to solve from, in priority order: the profile's ``[environments]
    channels`` (default conda-forge), then the decorator's; names become
    ``https://conda.anaconda.org/<name>``, local folders ``file://`` URLs."""
    urls: list[str] = []
    for raw in (*settings.channels, *spec.channels):
        url = channel_url(raw, spec)
        if url not in urls:
            urls.append(url)
    if not urls:
        raise EnvError(
            f"{decorator(spec)}: no conda channel to solve from",
            fix="list channels in the profile's [environments] channels (default conda-forge)",
            **where(spec),
        )
    return urls


def channel_url(raw: str, spec: EnvSpec) -> str:
    """One channel as a URL: a name, an http(s)/file/s3 URL or a local folder."""
    text = str(raw).strip()
    bad = not text or any(ch.isspace() for ch in text) or any(ord(ch) < 32 for ch in str(raw))
    if not bad and text.startswith(_PATH_PREFIXES):
        path = Path(os.path.expanduser(text)).resolve()
        return path.as_uri()
    if not bad and "://" in text:
        parsed = urlparse(text)
        if parsed.scheme in _UNREAD:
            raise EnvError(
                f"{decorator(spec)}: the channel {text!r} is a {parsed.scheme}:// URL, "
                "which grange's conda solver (py-rattler) cannot read",
                fix="serve the channel over https:// (or copy it to a local folder) and "
                "list that in [environments] channels",
                **where(spec),
            )
        if parsed.scheme in _SCHEMES and (parsed.netloc or parsed.scheme == "file"):
            return text.rstrip("/")
        bad = True
    if not bad and _CHANNEL_NAME.match(text):
        return f"{ANACONDA}/{text}"
    raise EnvError(
        f"{decorator(spec)}: {raw!r} is not a conda channel (a name such as conda-forge, "
        f"an {'/'.join(_SCHEMES)} URL or a local folder starting with / ./ or ~)",
        fix="fix the channel in the profile's [environments] channels or the decorator",
        **where(spec),
    )


def local_folder(url: str) -> Path | None:
    """The folder of a ``file://`` channel URL, else None."""
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path))


def check_local_channels(urls: list[str], spec: EnvSpec) -> None:
    """A local channel must be a folder (rattler's own error names a repodata file)."""
    for url in urls:
        folder = local_folder(url)
        if folder is not None and not folder.is_dir():
            raise EnvError(
                f"{decorator(spec)}: the conda channel {url} does not exist (no folder {folder})",
                fix="build the channel there (rattler-index / conda index) or fix the path "
                "in the profile's [environments] channels",
                **where(spec),
            )


def package_spec(name: str, version: str, spec: EnvSpec) -> str:
    """``name`` and the decorator's version text as one conda match spec string."""
    if isinstance(name, str) and "::" in name:
        channel, _, package = name.partition("::")
        raise EnvError(
            f"{decorator(spec)}: {name!r} names a channel ({channel.strip()!r}) in the "
            "package name; grange takes channels from [environments] channels, for "
            "every package",
            fix=f'write "{package.strip()}" in {decorator(spec)}(packages=...) and add '
            f'"{channel.strip()}" to channels in the [environments] table of the profile',
            **where(spec),
        )
    if not isinstance(name, str) or not _NAME.match(name):
        raise EnvError(
            f"{decorator(spec)}: {name!r} is not a conda package name "
            "(letters, digits, _ . - only)",
            fix=f"fix the package name in {decorator(spec)}(packages=...)",
            **where(spec),
        )
    text = str(version).strip()
    if not _VERSION.match(text):
        raise EnvError(
            f"{decorator(spec)}: {text!r} (package {name!r}) is not a conda version spec",
            fix='give a version ("1.2.3"), a range (">=1.2,<2"), a glob ("1.2.*") '
            'or "" for any version',
            **where(spec),
        )
    if not text:
        return name
    if text.startswith(_OPERATORS) or "*" in text.split(" ")[0]:
        return f"{name} {text}"
    return f"{name} =={text}"


def python_spec(python: str | None) -> str:
    """The ``python`` match spec: x.y -> ``python x.y.*``, x.y.z -> ``==x.y.z``."""
    if python is None:
        python = "{}.{}".format(*sys.version_info[:2])
    text = str(python).strip()
    if re.fullmatch(r"\d+\.\d+", text):
        return f"python {text}.*"
    if re.fullmatch(r"\d+\.\d+\.\d+", text):
        return f"python =={text}"
    return f"python {text}"


def match_specs(spec: EnvSpec, rattler: Any) -> list[Any]:
    """Every match spec of ``spec`` (packages, then Python), each parsed by rattler."""
    texts: list[str] = []
    asked_python = None
    for name, version in spec.packages:
        text = package_spec(name, version, spec)
        if name.lower() == "python":
            asked_python = version
        texts.append(text)
    if asked_python is not None and spec.python is not None:
        raise EnvError(
            f"{decorator(spec)}: Python is asked twice, python={spec.python!r} and "
            f"packages={{'python': {asked_python!r}}}",
            fix="give the Python version once, with python=",
            **where(spec),
        )
    if asked_python is None:
        python = python_spec(spec.python)
        if not _VERSION.match(python[len("python ") :]):
            raise EnvError(
                f"{decorator(spec)}: python={spec.python!r} is not a Python version",
                fix='give python="3.11" or python="3.11.7"',
                **where(spec),
            )
        texts.append(python)
    parsed = []
    for text in texts:
        try:
            parsed.append(rattler.MatchSpec(text, strict=True))
        except Exception as err:  # rattler's InvalidMatchSpecError and kin
            raise EnvError(
                f"{decorator(spec)}: {text!r} is not a valid conda package spec: {err}",
                fix=f"fix the version in {decorator(spec)}(packages=...)",
                **where(spec),
            ) from None
    return parsed


def subdir(platform: str, spec: EnvSpec, rattler: Any) -> Any:
    """``platform`` as a rattler Subdir (``linux-64``, ``osx-arm64``, ...)."""
    try:
        return rattler.Subdir(platform)
    except Exception:
        raise EnvError(
            f"{decorator(spec)}: {platform!r} is not a conda platform "
            "(linux-64, linux-aarch64, osx-64, osx-arm64, win-64...)",
            fix="use a conda subdir name for the platform",
            **where(spec),
        ) from None


# What a platform other than this machine's is assumed to provide: the oldest glibc
# of grange's pod images (manylinux_2_28) and a macOS that conda-forge builds for.
_FOREIGN_VIRTUAL = {
    "linux": (("__unix", "0"), ("__linux", "5.10"), ("__glibc", "2.28")),
    "osx": (("__unix", "0"), ("__osx", "11.0")),
    "win": (("__win", "0"),),
}


def virtual_packages(platform: str, rattler: Any) -> list[Any]:
    """This machine's virtual packages (``__glibc``, ``__cuda``...) when solving for its
    own platform; for another one, a fixed set (``__glibc 2.28`` on Linux)."""
    if platform == str(rattler.Subdir.current()):
        try:
            return list(rattler.VirtualPackage.detect())
        except Exception:  # detection failed: solve without (rattler reports what is missing)
            return list(rattler.VirtualPackage.current())
    family = platform.split("-", 1)[0]
    return [
        rattler.GenericVirtualPackage(
            rattler.PackageName(name), rattler.Version(version), rattler.BuildString("0")
        )
        for name, version in _FOREIGN_VIRTUAL.get(family, ())
    ]
