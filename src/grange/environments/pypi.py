"""The ``@pypi`` backend: a requirement set resolved with uv into a PEP 751 lock
(``pylock.toml``: the URL and sha256 of every wheel), and a lock installed with uv into
a relocatable virtual environment.

Called only by :mod:`grange.environments.manager`, which owns the caches and the key.
A requirement reaches uv as a line of a file, never through a shell or as an option:
names and version specs are checked first (letters, digits, ``.``, ``_``, ``-``;
operators and versions), so a ``packages=`` value cannot smuggle an option or a second
requirement in.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grange.environments import uvtool
from grange.environments.envlock import EnvLock, Resolved
from grange.environments.pypi_errors import MAX_MESSAGE_LINES as MAX_MESSAGE_LINES
from grange.environments.pypi_errors import _failure as _failure
from grange.environments.pypi_errors import trimmed as trimmed
from grange.environments.settings import EnvSettings
from grange.exceptions import EnvError

if TYPE_CHECKING:
    from grange.decorators.options import EnvSpec

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
NAME = re.compile(rf"^(?P<name>{_NAME})(?:\[(?P<extras>\s*{_NAME}(?:\s*,\s*{_NAME})*\s*)\])?$")
_VERSION = r"[A-Za-z0-9*+!._-]+"
CLAUSE = re.compile(rf"^\s*(?P<op>===|==|!=|~=|<=|>=|<|>)\s*(?P<version>{_VERSION})\s*$")
BARE = re.compile(rf"^\s*(?P<version>{_VERSION})\s*$")
URL = re.compile(r"^@\s*(?P<url>(?:https?|git\+https?|git\+ssh|file)://[^\s'\"\\;]+)$")
PYLOCK = "pylock.toml"
TOMLI = "tomli>=2"  # grange's own need on Python 3.10 (grange.config reads TOML)


_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*):[^/@\s]*@")
_TOKEN = re.compile(r"(?P<head>(?:git\+)?https?://)[^/@\s:]+@")


def masked(text: str) -> str:
    """``text`` with the credentials of the URLs in it masked: ``user:***@`` for a
    password, ``***@`` for an http(s) token (``git+ssh://git@`` is no secret)."""
    text = _PASSWORD.sub(lambda m: f"{m['head']}:***@", text)
    return _TOKEN.sub(lambda m: f"{m['head']}***@", text)


def normal_name(name: str) -> str:
    """A distribution name as indexes compare them (PEP 503): ``Foo.Bar_baz`` →
    ``foo-bar-baz``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(spec: EnvSpec, python: str | None = None) -> list[str]:
    """One requirement line per package of ``spec``, sorted: ``"0.9.0"`` means
    ``==0.9.0``, a spec starting with an operator is used as it is, ``""`` is any
    version, ``"@ https://..."`` a direct URL. Anything else is an :class:`EnvError`.

    For a Python before 3.11 (``python``), grange's own ``tomli`` is added (a task
    reads its profile with it there) unless the step names it."""
    lines = {requirement_line(name, version, spec) for name, version in spec.packages}
    if python and _before_311(python):
        names = {re.split(r"[\[=!~<>@ ]", line, maxsplit=1)[0] for line in lines}
        if "tomli" not in names:
            lines.add(TOMLI)
    return sorted(lines)


def _before_311(python: str) -> bool:
    try:
        parts = tuple(int(p) for p in python.split(".")[:2])
    except ValueError:
        return False
    return len(parts) == 2 and parts < (3, 11)


def requirement_line(name: Any, version: Any, spec: EnvSpec) -> str:
    if not isinstance(name, str) or not (match := NAME.match(name)):
        raise _bad(
            spec,
            f"the package name {name!r} is not a valid name",
            "write names as on PyPI: letters, digits, '.', '_' and '-' (extras as name[extra])",
        )
    line = normal_name(match["name"])
    if match["extras"]:
        extras = sorted({normal_name(e.strip()) for e in match["extras"].split(",")})
        line += f"[{','.join(extras)}]"
    if version is None:
        version = ""
    if not isinstance(version, str):
        raise _bad(
            spec,
            f"the version of {name!r} must be a string, not {version!r}",
            f'write {{"{name}": "1.2.3"}} (or ">=1.2", or "" for any version)',
        )
    text = version.strip()
    if not text:
        return line
    if text.startswith("@"):
        if url := URL.match(text):
            if url["url"].startswith("file:"):
                raise _bad(
                    spec,
                    f"{name!r} comes from a local path ({url['url']}): its later edits would "
                    "never reach the environment (the lock is reused), and a pod cannot "
                    "read this machine's files",
                    "build a wheel of it (uv build, or pip wheel <folder> -w <wheels>) and "
                    "list that folder in [environments] find_links (or publish it to an "
                    f'index), then ask for it by version: {{"{name}": "1.0"}}; '
                    "https:// URLs work too",
                )
            return f"{line} @ {url['url']}"
    elif text[0] in "=!~<>":
        clauses = [CLAUSE.match(c) for c in text.split(",")]
        if all(clauses):
            return line + ",".join(f"{c['op']}{c['version']}" for c in clauses if c)
    elif bare := BARE.match(text):
        return f"{line}=={bare['version']}"
    raise _bad(
        spec,
        f"the version spec {version!r} of {name!r} is not a version spec",
        'write "1.2.3" (exactly that version), an operator and a version '
        '(">=1.2,<2", "~=1.4"), "" for any version, or "@ https://..." for a URL',
    )


def lock(spec: EnvSpec, settings: EnvSettings, *, python: str | None, platform: str) -> Resolved:
    """Resolve ``spec`` with ``uv pip compile`` for Python ``python`` (exact, x.y.z) on
    ``platform`` (uv's ``--python-platform`` name; ``""``: this machine)."""
    version = python or uvtool.running_interpreter().version
    lines = requirement_lines(spec, version)
    tool = uvtool.uv_version()
    work = _work_dir(settings)
    try:
        requirements = work / "requirements.in"
        requirements.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        args = ["pip", "compile", str(requirements), "-o", str(work / PYLOCK)]
        # x.y: wheels are tagged by minor version; a lock is then good for every
        # patch release (a pod's image may have another).
        args += ["--python-version", ".".join(version.split(".")[:2])]
        interpreter = uvtool.find_python(version, settings)
        if interpreter is not None:  # builds source-only packages (else uv picks one)
            args += ["--python", interpreter.path]
        if platform:
            args += ["--python-platform", platform]
        args += ["--no-python-downloads", "--no-header", "--quiet", *_index_args(settings)]
        done = uvtool.run_uv(args, settings)
        if done.returncode != 0:
            raise _failure(done.stderr, spec, settings, f"cannot resolve {_listed(lines)}")
        try:
            text = (work / PYLOCK).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise EnvError(
                f"{tool} resolved {_listed(lines)} but wrote no pylock.toml",
                fix="upgrade uv: pip install -U 'grange[pypi]'",
            ) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Resolved(text=text, tool=tool, packages=parse_packages(text), python=version)


def install(
    lock: EnvLock, settings: EnvSettings, target: Path, *, final: Path | None = None
) -> Path:
    """Build ``lock`` into the folder ``target`` (``uv venv --relocatable`` and
    ``uv pip sync``, from uv's cache first, from the index when that lacks a package
    and ``offline`` is off); its interpreter. The environment is relocatable: the
    folder it is renamed to (``final``) need not be known.

    ``target`` is empty, or holds a virtual environment :func:`speculate` filled: the
    sync then makes it exactly the lock (what the lock lacks is removed, other
    versions replaced)."""
    uvtool.uv_version()  # checked
    python = target / "bin" / "python"
    if not python.exists():
        _make_venv(_interpreter(lock.python, settings), target, settings)
    pylock = target / PYLOCK
    pylock.write_text(lock.text, encoding="utf-8")
    sync = ["pip", "sync", "--python", str(python), "--quiet"]
    sync += _index_args(settings, offline=False)
    preview = {"UV_PREVIEW_FEATURES": "pylock"}
    done = None
    if settings.offline or not cold_cache(settings):
        done = uvtool.run_uv([*sync, "--offline", str(pylock)], settings, extra_env=preview)
    if (done is None or done.returncode != 0) and not settings.offline:
        done = uvtool.run_uv([*sync, str(pylock)], settings, extra_env=preview)
    assert done is not None
    if done.returncode != 0:
        raise _failure(
            done.stderr,
            None,
            settings,
            f"cannot install {_listed(_pins(lock))}",
            fix="check that the lock's files can still be downloaded (uv's message above), "
            "or resolve the environment again (a new run)",
        )
    return python


def cold_cache(settings: EnvSettings) -> bool:
    """Whether uv's package cache is known to be empty (an offline install from it
    would only fail)."""
    try:
        with os.scandir(settings.cache_dir / "uv") as entries:
            return not any(entries)
    except OSError:
        return True


def _interpreter(version: str, settings: EnvSettings) -> uvtool.Interpreter:
    found = uvtool.find_python(version, settings) or uvtool.find_python(_minor(version), settings)
    if found is None:
        raise EnvError(
            f"the environment's lock is for Python {version}, and no Python "
            f"{_minor(version)} is on this machine",
            fix=f"install Python {_minor(version)} (or put it on PATH)",
        )
    return found


def _venv_args(found: uvtool.Interpreter, target: Path) -> list[str]:
    return [
        "venv",
        "--relocatable",
        "--no-python-downloads",
        "--quiet",
        "-p",
        found.path,
        str(target),
    ]


def _make_venv(found: uvtool.Interpreter, target: Path, settings: EnvSettings) -> None:
    done = uvtool.run_uv(_venv_args(found, target), settings)
    if done.returncode != 0:
        raise _failure(done.stderr, None, settings, "cannot create the environment")


class Speculation:
    """``uv venv`` and ``uv pip install`` of a spec's requirement lines into a folder,
    in a thread, while the spec is being resolved: the packages it downloads fill uv's
    cache, and the environment it makes is the start :func:`install` syncs to the lock.
    Its failures are not errors (the resolution reports what is wrong): the
    install then starts from what there is."""

    def __init__(self, steps: list[list[str]], settings: EnvSettings, work: Path) -> None:
        self._steps = steps
        self._work = work
        self._settings = settings
        self._guard = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._cancelled = False
        self.venv_made = False
        self._thread = threading.Thread(target=self._run, name="grange-uv-speculate", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for index, args in enumerate(self._steps):
            with self._guard:
                if self._cancelled:
                    return
                try:
                    self._proc = uvtool.start_uv(args, self._settings)
                except EnvError:
                    return
            if self._proc.wait() != 0:
                return
            if index == 0:
                self.venv_made = True

    def wait(self) -> bool:
        """Wait for it to end; whether its folder holds a virtual environment."""
        self._thread.join()
        shutil.rmtree(self._work, ignore_errors=True)
        return self.venv_made

    def cancel(self) -> None:
        """Stop it (its uv killed) and wait for it."""
        with self._guard:
            self._cancelled = True
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
        self.wait()


def speculate(
    spec: EnvSpec, settings: EnvSettings, *, python: str, platform: str, target: Path
) -> Speculation | None:
    """Start installing ``spec``'s requirement lines into the empty folder ``target``
    (a virtual environment of Python ``python`` on this machine, ``platform``
    uv's name of this machine or ``""``), to run while it is resolved; None when it
    cannot help (no such Python here)."""
    found = uvtool.find_python(python, settings)
    if found is None:
        return None
    work = _work_dir(settings)
    requirements = work / "requirements.in"
    lines = requirement_lines(spec, found.version)
    requirements.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    install = ["pip", "install", "--python", str(target / "bin" / "python"), "--quiet"]
    install += ["-r", str(requirements)]
    if platform:
        install += ["--python-platform", platform]
    install += _index_args(settings)
    steps = [_venv_args(found, target)] + ([install] if lines else [])
    return Speculation(steps, settings, work)


def parse_packages(text: str) -> tuple[dict[str, Any], ...]:
    """``name``, ``version`` and, when known, ``url`` and ``sha256`` of each package of a
    ``pylock.toml`` (the first wheel's, else the source archive's), sorted by name."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise EnvError(
            f"uv wrote a pylock.toml that cannot be read ({err})",
            fix="upgrade uv (pip install -U 'grange[pypi]')",
        ) from None
    packages = []
    for entry in data.get("packages") or []:
        package: dict[str, Any] = {
            "name": str(entry.get("name", "")),
            "version": str(entry.get("version", "")),
        }
        files = [*(entry.get("wheels") or []), entry.get("sdist"), entry.get("archive")]
        for source in files:
            if isinstance(source, dict) and source.get("url"):
                package["url"] = masked(str(source["url"]))
                sha = (source.get("hashes") or {}).get("sha256")
                if sha:
                    package["sha256"] = str(sha)
                break
        else:
            vcs = entry.get("vcs") or entry.get("directory")
            if isinstance(vcs, dict) and (vcs.get("url") or vcs.get("path")):
                package["url"] = masked(str(vcs.get("url") or vcs.get("path")))
        packages.append(package)
    return tuple(sorted(packages, key=lambda p: p["name"]))


# -- helpers -------------------------------------------------------------------------


def _index_args(settings: EnvSettings, *, offline: bool = True) -> list[str]:
    args = ["--index-url", settings.index_url] if settings.index_url else []
    for url in settings.extra_index_urls:
        args += ["--extra-index-url", url]
    for link in settings.find_links:
        args += ["--find-links", link]
    if offline and settings.offline:
        args.append("--offline")
    return args


def _work_dir(settings: EnvSettings) -> Path:
    from grange.environments.cache import sweep, temp_dir, unwritable

    try:
        sweep(settings.cache_dir / "tmp", "resolve", locked=False)
        return temp_dir(settings.cache_dir / "tmp" / "resolve")
    except OSError as err:
        raise unwritable(settings.cache_dir, err) from None


def _pins(lock: EnvLock) -> list[str]:
    return [f"{p.get('name')}=={p.get('version')}" for p in lock.packages]


def _listed(lines: list[str]) -> str:
    if not lines:
        return "an empty requirement set"
    shown = ", ".join(lines[:6])
    return shown + (f" (and {len(lines) - 6} more)" if len(lines) > 6 else "")


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _bad(spec: EnvSpec, message: str, fix: str) -> EnvError:
    return EnvError(
        f"{spec.decorator or '@pypi'}: {message}",
        file=spec.file,
        line=spec.line,
        step=spec.step or None,
        fix=fix,
    )
