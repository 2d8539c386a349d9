"""Helpers of the environment tests (@pypi/@conda): specs, and settings whose caches
are fresh per test but share one uv package cache per test session, so that PyPI is
asked for a package once (the session's ``GRANGE_CACHE_DIR`` is a temporary folder:
see ``grange_cache`` in tests/conftest.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from grange.decorators.options import EnvSpec
from grange.environments.settings import EnvSettings, default_cache_dir

TABULATE = ("tabulate", "0.9.0")


def pypi_spec(*packages: tuple[str, str], python: str | None = None, **kw: Any) -> EnvSpec:
    """A @pypi spec of step 'start' in flow.py:12 (``tabulate==0.9.0`` by default)."""
    fields: dict[str, Any] = {
        "step": "start",
        "decorator": "@pypi",
        "file": "flow.py",
        "line": 12,
    }
    fields.update(kw)
    return EnvSpec(
        kind="pypi",
        packages=tuple(sorted(packages or (TABULATE,))),
        python=python,
        **fields,
    )


def session_uv_cache() -> Path:
    """uv's package cache shared by the whole test session."""
    folder = default_cache_dir() / "uv"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def fresh_settings(folder: Path, **changes: Any) -> EnvSettings:
    """Settings with an empty environment cache in ``folder`` (no locks, no
    environments) whose uv package cache is the session's."""
    folder.mkdir(parents=True, exist_ok=True)
    uv = folder / "uv"
    if not uv.exists():
        uv.symlink_to(session_uv_cache(), target_is_directory=True)
    return replace(EnvSettings.from_table({}, {}), cache_dir=folder, **changes)


def host_has(module: str) -> bool:
    """Whether the interpreter running the tests can import ``module``."""
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    return done.returncode == 0


def uv_available() -> bool:
    if shutil.which("uv"):
        return True
    try:
        import uv  # noqa: F401

        return True
    except ImportError:
        return False


def other_python(below: tuple[int, int] | None = None) -> tuple[str, Path] | None:
    """``("3.10", <its bin folder>)``: a Python other than the running one that uv does
    not find by itself here (pyenv's versions; a test puts its folder first on PATH),
    before ``below`` when given; None when this machine has none."""
    running = sys.version_info[:2]
    roots = sorted(Path.home().glob(".pyenv/versions/3.*/bin"))
    for folder in roots:
        minor = folder.parent.name.split(".")[:2]
        if len(minor) != 2 or not all(p.isdigit() for p in minor):
            continue
        version = (int(minor[0]), int(minor[1]))
        if version == running or version < (3, 10) or (below and version >= below):
            continue
        if (folder / f"python{version[0]}.{version[1]}").exists():
            return f"{version[0]}.{version[1]}", folder
    return None


def pypi_lock(text: str = 'lock-version = "1.0"\n') -> Any:
    """A @pypi lock for the running Python on this machine (``text`` as the lock)."""
    from grange.environments.envlock import EnvLock

    version = ".".join(map(str, sys.version_info[:3]))
    return EnvLock(
        kind="pypi", key="k" * 64, python=version, platform="", text=text, tool="uv 0.13.9"
    )
