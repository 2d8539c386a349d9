"""grange's pytest plugin loads in every pytest session where grange is installed:
importing it must stay light."""

from __future__ import annotations

import subprocess
import sys

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
