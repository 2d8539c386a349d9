"""tests/browser.py: the browser tests are skipped only when the browser is missing and not required."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.browser import should_skip

ROOT = Path(__file__).resolve().parents[2]


def test_skipped_only_when_missing_and_not_required() -> None:
    assert should_skip(False, {}) is True
    assert should_skip(False, {"GRANGE_REQUIRE_BROWSER": "0"}) is True
    assert should_skip(False, {"GRANGE_REQUIRE_BROWSER": "1"}) is False  # they run, and fail
    assert should_skip(True, {}) is False
    assert should_skip(True, {"GRANGE_REQUIRE_BROWSER": "1"}) is False


def test_the_mark_reads_the_environment_when_imported() -> None:
    probe = (
        "import tests.browser as b; "
        "print(b.BROWSER_SKIP.args[0] if b.BROWSER_SKIP.args else b.BROWSER_SKIP.kwargs)"
    )
    env = {"GRANGE_TEST_CHROMIUM": "/nonexistent/chromium", "PATH": "/usr/bin:/bin"}
    for required, skipped in (("", "True"), ("1", "False")):
        out = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=ROOT,
            env={**env, "GRANGE_REQUIRE_BROWSER": required},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.strip() == skipped, (required, out)


def test_ci_requires_the_browser_when_chromium_is_there() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "export GRANGE_REQUIRE_BROWSER=1" in script
    assert script.index("export GRANGE_REQUIRE_BROWSER=1") < script.index("python -m pytest")
