"""grange's pytest plugin loads in every pytest session where grange is installed:
importing it must stay light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import grange.testing

HEAVY = ("grange.client", "grange.runtime", "grange.task", "grange.runner", "sqlalchemy", "rich")


def test_the_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, grange.testing.plugin; "
        f"print(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_public_names_are_sorted_and_load() -> None:
    assert grange.testing.__all__ == sorted(grange.testing.__all__)
    for name in grange.testing.__all__:
        assert getattr(grange.testing, name) is not None


# -- loading the plugin again (pytest_plugins, -p) is harmless ------------------------

pytest_plugins = ["pytester"]


def _pyproject_entry_points() -> str:
    """The ``pytest11`` table of pyproject.toml as an ``entry_points.txt``."""
    from pathlib import Path

    import tomllib

    root = Path(__file__).resolve().parents[2]
    table = tomllib.loads((root / "pyproject.toml").read_text())["project"]["entry-points"]
    lines = [f"{name} = {target}" for name, target in table["pytest11"].items()]
    return "[pytest11]\n" + "\n".join(lines) + "\n"


@pytest.fixture
def installed_as_in_pyproject(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """pytest sees grange installed with the entry point pyproject.toml declares (the
    editable install of the session may be older), and no other plugin."""
    import importlib.metadata

    info = pytester.path / "site" / "grange-0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: grange\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text(_pyproject_entry_points())
    dist = importlib.metadata.PathDistribution(info)
    monkeypatch.setattr(importlib.metadata, "distributions", lambda **_: iter([dist]))
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pytester.makepyfile(
        test_fixture="def test_store(grange_store):\n    assert grange_store.root.name == '.grange'\n"
    )
    return pytester


def test_pytest_plugins_in_a_conftest_loads_it_once(
    installed_as_in_pyproject: pytest.Pytester,
) -> None:
    pytester = installed_as_in_pyproject
    pytester.makeconftest('pytest_plugins = ["grange.testing.plugin"]\n')
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


def test_dash_p_with_autoload_loads_it_once(installed_as_in_pyproject: pytest.Pytester) -> None:
    result = installed_as_in_pyproject.runpytest_inprocess("-p", "grange.testing.plugin")
    result.assert_outcomes(passed=1)


def test_dash_p_no_disables_it(installed_as_in_pyproject: pytest.Pytester) -> None:
    result = installed_as_in_pyproject.runpytest_inprocess("-p", "no:grange.testing.plugin")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'grange_store' not found*"])
