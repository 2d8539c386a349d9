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
