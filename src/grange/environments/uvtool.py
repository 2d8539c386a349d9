"""Running uv: finding its binary, the environment it runs in, and finding Pythons.

uv is a separate program (the ``uv`` wheel carries its binary: ``grange[pypi]``); it is
always run with a list of arguments (never a shell), from the cache folder (so that no
project's ``uv.toml`` or ``pyproject.toml`` applies), with ``--no-config``, with Python
downloads off, and with its own cache under grange's (``<cache>/uv``). The user's
``UV_*`` variables that would change what is resolved are left out: the profile's
``[environments]`` table says where packages come from, and the environment's key
records it.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grange.environments.settings import EnvSettings
from grange.exceptions import EnvError

# The user's uv variables that only say how to talk to an index (not which packages):
# kept. Every other UV_* variable is dropped.
_KEPT = (
    "UV_HTTP_TIMEOUT",
    "UV_HTTP_RETRIES",
    "UV_NATIVE_TLS",
    "UV_SYSTEM_CERTS",
    "UV_KEYRING_PROVIDER",
    "UV_CONCURRENT_DOWNLOADS",
    "UV_CONCURRENT_BUILDS",
    "UV_CONCURRENT_INSTALLS",
    "UV_INSECURE_HOST",
    "UV_LINK_MODE",
)
_DROPPED_ALSO = ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PYTHONHOME")
PYTHONS_FILE = "pythons.json"


@functools.lru_cache(maxsize=1)
def uv_binary() -> str:
    """The uv program: the one on PATH, else the ``uv`` wheel's."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        import uv  # type: ignore[import-not-found,unused-ignore]

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        raise EnvError(
            "@pypi needs uv: pip install 'grange[pypi]'",
            fix="install uv (pip install 'grange[pypi]', or put a uv binary on PATH)",
        ) from None


MINIMUM = (0, 6, 15)  # the first uv that writes and installs pylock.toml (PEP 751)


@functools.lru_cache(maxsize=1)
def uv_version() -> str:
    """``uv 0.13.9``: what a lock records as its tool (checked: not older than
    :data:`MINIMUM`)."""
    try:
        done = subprocess.run(
            [uv_binary(), "--version"], capture_output=True, text=True, check=False
        )
    except OSError:
        return "uv"
    words = done.stdout.split()
    if done.returncode != 0 or len(words) < 2:
        return "uv"
    check_version(words[1])
    return f"uv {words[1]}"


def check_version(text: str) -> None:
    """Refuse a uv older than :data:`MINIMUM` (``text``: ``0.13.9``)."""
    try:
        version = tuple(int(p) for p in text.split(".")[:3])
    except ValueError:
        return  # a build we cannot read: let it try
    if version < MINIMUM:
        least = ".".join(map(str, MINIMUM))
        raise EnvError(
            f"uv {text} is too old for @pypi: grange needs uv {least} or newer "
            "(locks are pylock.toml files)",
            fix="upgrade uv: pip install -U 'grange[pypi]' (or the uv on PATH)",
        )


def uv_env(settings: EnvSettings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment uv runs in: the caller's without the variables that would change
    what is resolved or where it is installed, plus grange's cache and no downloads."""
    base = os.environ if base is None else base
    env = {
        k: v
        for k, v in base.items()
        if not (k.startswith("UV_") and k not in _KEPT) and k not in _DROPPED_ALSO
    }
    env["UV_CACHE_DIR"] = str(settings.cache_dir / "uv")
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_NO_PROGRESS"] = "1"
    if settings.offline:
        env["UV_OFFLINE"] = "1"
    return env


def run_uv(
    args: Sequence[str],
    settings: EnvSettings,
    *,
    stdin: str | None = None,
    cwd: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``uv ARGS`` (``--no-config`` added), its output captured; never raises for uv's
    own failures (the caller reads ``returncode`` and ``stderr``)."""
    argv, env, folder = _command(args, settings, cwd, extra_env)
    try:
        return subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            text=True,
            cwd=folder,
            env=env,
            check=False,
            preexec_fn=dies_with_parent(),
        )
    except OSError as err:
        raise _unrunnable(argv[0], err) from None


def start_uv(args: Sequence[str], settings: EnvSettings) -> subprocess.Popen[bytes]:
    """``uv ARGS`` started as :func:`run_uv` runs it, its output discarded."""
    argv, env, folder = _command(args, settings, None, None)
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=folder,
            env=env,
            preexec_fn=dies_with_parent(),
        )
    except OSError as err:
        raise _unrunnable(argv[0], err) from None


_PR_SET_PDEATHSIG = 1


@functools.lru_cache(maxsize=1)
def _prctl() -> Any:
    """libc's ``prctl`` (Linux), looked up once in the parent: the child only calls it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


def dies_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child killed (SIGKILL) when this process dies, so
    a uv grange started never outlives it (kill -9 of a run while it resolves); if
    this process died before the call took effect, the child exits at once. None where
    the system has no such thing (a private copy of the runtime's: layers)."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()
    kill = int(signal.SIGKILL)

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def _command(
    args: Sequence[str],
    settings: EnvSettings,
    cwd: Path | None,
    extra_env: Mapping[str, str] | None,
) -> tuple[list[str], dict[str, str], Path]:
    env = uv_env(settings)
    if extra_env:
        env.update(extra_env)
    folder = cwd or settings.cache_dir
    folder.mkdir(parents=True, exist_ok=True)
    return [uv_binary(), "--no-config", *args], env, folder


def _unrunnable(program: str, err: OSError) -> EnvError:
    return EnvError(
        f"cannot run uv ({program}): {err.strerror or err}",
        fix="reinstall uv: pip install --force-reinstall 'grange[pypi]'",
    )


@dataclass(frozen=True)
class Interpreter:
    """A Python found on this machine: its ``path`` and exact ``version`` (``3.11.7``)."""

    path: str
    version: str


def running_interpreter() -> Interpreter:
    """The Python running grange."""
    v = sys.version_info
    return Interpreter(sys.executable, f"{v.major}.{v.minor}.{v.micro}")


# Pythons ``uv python find`` did not find in this process, by (request, PATH): not
# kept in the cache file (one installed later is found by the next process).
_MISSES: set[tuple[str, str]] = set()


def find_python(request: str, settings: EnvSettings) -> Interpreter | None:
    """A Python of version ``request`` (``3.11``, ``3.11.7``) on this machine, or None.

    The running interpreter when it matches; else ``uv python find`` (remembered in
    ``<cache>/pythons.json`` while the interpreter's file is unchanged)."""
    running = running_interpreter()
    if matches(running.version, request):
        return running
    remembered = _remembered(settings.cache_dir, request)
    if remembered is not None:
        return remembered
    missed = (request, os.environ.get("PATH", ""))
    if missed in _MISSES:  # asked already in this process, under this PATH
        return None
    done = run_uv(["python", "find", "--no-python-downloads", request], settings)
    path = done.stdout.strip().splitlines()[-1] if done.returncode == 0 and done.stdout else ""
    if not path:
        _MISSES.add(missed)
        return None
    try:
        probe = subprocess.run(
            [path, "-I", "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    version = probe.stdout.strip()
    if probe.returncode != 0 or not matches(version, request):
        return None
    found = Interpreter(path, version)
    _remember(settings.cache_dir, request, found)
    return found


def matches(version: str, request: str) -> bool:
    """Whether the exact ``version`` (``3.11.7``) is what ``request`` asks
    (``3``, ``3.11``, ``3.11.7``)."""
    have, want = version.split("."), request.split(".")
    return have[: len(want)] == want


def _stamp(path: str) -> str:
    info = os.stat(os.path.realpath(path))
    return f"{info.st_size}:{info.st_ino}:{info.st_mtime_ns}"


def _remembered(cache: Path, request: str) -> Interpreter | None:
    try:
        entry = json.loads((cache / PYTHONS_FILE).read_text())[request]
        if entry["stamp"] != _stamp(entry["path"]):
            return None
        return Interpreter(str(entry["path"]), str(entry["version"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _remember(cache: Path, request: str, found: Interpreter) -> None:
    from grange.environments.cache import write_atomic

    path = cache / PYTHONS_FILE
    try:
        known = json.loads(path.read_text())
        if not isinstance(known, dict):
            known = {}
    except (OSError, ValueError):
        known = {}
    try:
        known[request] = {
            "path": found.path,
            "version": found.version,
            "stamp": _stamp(found.path),
        }
        write_atomic(path, json.dumps(known, indent=1, sort_keys=True))
    except OSError:
        pass  # a cache only: the next call asks uv again
