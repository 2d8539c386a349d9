"""The key of a step environment's requirements (what its lock is cached and reused
under) and what goes into it: the Python asked for (``python=``, a ``@conda``
package ``python``) or found here, the platform, the index settings or channels, and
the datastore's runtime packages. Used by :mod:`grange.environments.manager`."""

from __future__ import annotations

import platform as _platform
import re
from dataclasses import replace
from typing import Any

from grange.decorators.options import EnvSpec
from grange.environments import cache
from grange.environments.platforms import buildable_here, conda_platform, pypi_platform
from grange.environments.settings import EnvSettings
from grange.exceptions import EnvError

KINDS = ("pypi", "conda")
KEY_FORMAT = 2  # changes when what goes into a key changes
_PYTHON = re.compile(r"^3(\.\d{1,2}){1,2}$")
Runtime = tuple[tuple[str, str], ...]  # (name, version) pairs: manager.datastore_packages


def _with_runtime(spec: EnvSpec, runtime: Runtime) -> EnvSpec:
    """``spec`` with the runtime's packages it does not name: added to a @pypi spec's
    packages (``requested`` keeps what the step asked); a @conda spec is only checked
    (the shim provides them: the environment's Python x.y must be the host's). A
    @conda spec for a Python before 3.11 gets ``tomli`` (grange reads its profile with
    it there; @pypi adds it in :func:`grange.environments.pypi.requirement_lines`)."""
    if spec.kind == "conda":
        spec = _conda_tomli(_conda_python(spec))
    if not runtime:
        return spec
    if spec.kind == "conda":
        want = _check_python(spec)
        if want is not None and want.split(".")[:2] != _running().split(".")[:2]:
            names = ", ".join(name for name, _ in runtime)
            raise EnvError(
                f"{spec.decorator or '@conda'}: on this datastore a task imports {names} "
                f"from grange's Python {_minor(_running())}, which cannot load in the "
                f"environment's Python {want}",
                file=spec.file,
                line=spec.line,
                step=spec.step or None,
                fix=f'use python="{_minor(_running())}" in {spec.decorator or "@conda"} '
                "(or drop python=), or use @pypi for this step",
            )
        return spec
    from grange.environments.pypi import normal_name

    named = {normal_name(name.split("[")[0]) for name, _ in spec.packages}
    extra = tuple((n, v) for n, v in runtime if normal_name(n) not in named)
    if not extra:
        return spec
    packages = tuple(sorted(spec.packages + extra))
    return replace(spec, packages=packages)


def _conda_python(spec: EnvSpec) -> EnvSpec:
    """A @conda spec whose packages name ``python``: that is the Python asked for (a
    version x.y or x.y.z becomes ``python=``; a range stays a package, solved as is).
    Given with ``python=`` too, it is an error (which one would win is a guess)."""
    asked = [(n, v) for n, v in spec.packages if n.strip().lower() == "python"]
    if not asked:
        return spec
    label = spec.decorator or "@conda"
    if spec.python is not None and spec.python != "":
        raise EnvError(
            f"{label}: Python is asked twice, python={spec.python!r} and "
            f"packages={{'python': {asked[0][1]!r}}}",
            file=spec.file,
            line=spec.line,
            step=spec.step or None,
            fix=f"give the Python version once: python= (or packages['python']) in {label}",
        )
    version = str(asked[0][1]).strip()
    if _PYTHON.match(version):
        rest = tuple(p for p in spec.packages if p not in asked)
        return replace(spec, python=version, packages=rest)
    return spec


def _asked_range(spec: EnvSpec) -> bool:
    """A @conda spec with a python range in its packages (see :func:`_conda_python`)."""
    return spec.kind == "conda" and any(n.strip().lower() == "python" for n, _ in spec.packages)


def _conda_tomli(spec: EnvSpec) -> EnvSpec:
    python = _check_python(spec) or _running()
    try:
        before_311 = tuple(int(p) for p in python.split(".")[:2]) < (3, 11)
    except ValueError:
        return spec
    # A python range may end before 3.11: tomli then, harmless on later Pythons.
    before_311 = before_311 or _asked_range(spec)
    names = {name.lower().replace("_", "-") for name, _ in spec.packages}
    if not before_311 or "tomli" in names:
        return spec
    return replace(spec, packages=tuple(sorted((*spec.packages, ("tomli", ">=2")))))


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _keyed(spec: EnvSpec, settings: EnvSettings, platform: str | None) -> tuple[str, str, str]:
    """``(key, python, platform)``: what ``spec`` resolves under, for which Python
    (exact version) and platform."""
    if spec.kind not in KINDS:
        raise EnvError(
            f"unknown environment kind {spec.kind!r} (known: {', '.join(KINDS)})",
            step=spec.step or None,
            file=spec.file,
            line=spec.line,
        )
    if spec.kind == "pypi":
        from grange.environments import pypi

        target = pypi_platform(platform)
        python = _pypi_python(spec, settings, target)
        requirements: Any = pypi.requirement_lines(spec, python)
        keyed_python = _minor(python)  # uv resolves for x.y: a patch upgrade is one key
        sources: Any = settings.index_settings()
    else:
        target = conda_platform(platform)
        # A python range among the packages: in the requirements, no Python of its own.
        python = "" if _asked_range(spec) else _check_python(spec) or _running()
        keyed_python = python
        requirements = sorted([name, version or ""] for name, version in spec.packages)
        from grange.environments.conda_specs import channel_urls

        # As solved: names as URLs, folders absolute (``./chan`` here is not there).
        sources = channel_urls(spec, settings)
    payload = {
        "format": KEY_FORMAT,
        "kind": spec.kind,
        "requirements": requirements,
        "python": keyed_python,
        "platform": target,
        "sources": sources,
    }
    return cache.key_of(payload), python, target


def _pypi_python(spec: EnvSpec, settings: EnvSettings, target: str) -> str:
    """The exact version of the Python ``spec`` asks for, as found on this machine."""
    from grange.environments import uvtool

    request = _check_python(spec) or ".".join(_running().split(".")[:2])
    if not buildable_here(target):
        return request  # for a pod's image: uv resolves for x.y without an interpreter
    found = uvtool.find_python(request, settings)
    if found is not None:
        return found.version
    label = spec.decorator or "@pypi"
    raise EnvError(
        f"no Python {request} found for {label} on step '{spec.step}' "
        f"(this grange runs on Python {_running()})",
        file=spec.file,
        line=spec.line,
        step=spec.step or None,
        fix=f"install Python {request} or put it on PATH (grange never downloads "
        f"one), or drop python= from {label} to use Python {_running()}",
    )


def _check_python(spec: EnvSpec) -> str | None:
    if spec.python is None or spec.python == "":
        return None
    text = str(spec.python).strip()
    if not _PYTHON.match(text):
        raise EnvError(
            f"{spec.decorator or '@' + spec.kind}: python={spec.python!r} is not a Python version",
            file=spec.file,
            line=spec.line,
            step=spec.step or None,
            fix='write python="3.11" (or an exact version, "3.11.7")',
        )
    return text


def _running() -> str:
    return _platform.python_version()


def _channels(spec: EnvSpec, settings: EnvSettings) -> list[str]:
    channels = list(settings.channels)
    channels += [c for c in spec.channels if c not in channels]
    return channels


def _requested(spec: EnvSpec, settings: EnvSettings) -> dict[str, Any]:
    requested: dict[str, Any] = {
        "packages": {name: mask_url(version) for name, version in spec.packages},
        "python": spec.python,
        "decorator": spec.decorator,
    }
    if spec.kind == "conda":
        requested["channels"] = _channels(spec, settings)
    return requested


def mask_url(text: Any) -> Any:
    """``text`` with the credentials of a URL in it masked: ``user:***@`` for a
    password, ``***@`` for an http(s) token (``git+ssh://git@`` is no secret)."""
    if not isinstance(text, str):
        return text
    from grange.environments.pypi import masked

    return masked(text)
