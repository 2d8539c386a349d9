"""Quality gates that run with the suite: layering, lint, types, public API."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import grange

ROOT = Path(__file__).resolve().parents[2]


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


def test_public_api_is_sorted_and_importable() -> None:
    assert grange.__all__ == sorted(grange.__all__)
    for name in grange.__all__:
        assert getattr(grange, name) is not None, name


def test_public_api_is_exactly_the_curated_set() -> None:
    # dir(), not vars(): the client names are bound lazily, on first access
    public = {n for n in dir(grange) if not n.startswith("_") and n not in {"annotations"}}
    modules = {n for n in public if type(getattr(grange, n)).__name__ == "module"}
    assert public - modules == set(grange.__all__) - {"__version__"}


def test_layers_point_down() -> None:
    lint_imports = shutil.which(
        "lint-imports", path=str(Path(sys.executable).parent)
    ) or shutil.which("lint-imports")
    assert lint_imports, "import-linter is part of the test extras"
    result = _run(lint_imports, "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean() -> None:
    result = _run(sys.executable, "-m", "ruff", "check", "src", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_is_clean() -> None:
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_grange_loads_no_heavy_module() -> None:
    code = (
        "import sys, grange; heavy = {'click', 'rich', 'sqlalchemy', 'numpy'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    result = _run(sys.executable, "-c", code)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
