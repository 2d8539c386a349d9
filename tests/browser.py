"""Headless Chromium for the browser tests (Debian's /usr/bin/chromium, driven by Playwright).

``BROWSER_SKIP`` skips a test where Chromium or Playwright is missing (``.ci/run``
installs both), unless ``GRANGE_REQUIRE_BROWSER=1`` (``.ci/run`` sets it when
Chromium is there): then nothing is skipped and a missing browser fails the
tests loudly, so that CI cannot pass without them. Screenshots go to ``test-artifacts/screenshots/`` at the top of
the checkout (the README names it; CI keeps it as an artifact).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("GRANGE_TEST_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent

HAVE_BROWSER = bool(shutil.which(CHROMIUM)) and importlib.util.find_spec("playwright") is not None


def should_skip(have_browser: bool, environ: Any = os.environ) -> bool:
    """Skip the browser tests? Only when the browser is missing and not required."""
    return not have_browser and environ.get("GRANGE_REQUIRE_BROWSER", "") != "1"


BROWSER_SKIP = pytest.mark.skipif(
    should_skip(HAVE_BROWSER),
    reason=f"needs Chromium at {CHROMIUM} and playwright (bash .ci/run installs both)",
)

#: Without these, Chromium's own connections to Google are refused by a closed
#: network, many at a time, and it is slow to start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch_chromium(playwright: Any) -> Any:
    """A headless Chromium browser from a ``sync_playwright()`` context."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def screenshot_dir() -> Path:
    """Where the browser tests save their screenshots (created on first use)."""
    path = Path(os.environ.get("GRANGE_SCREENSHOTS", ROOT / "test-artifacts" / "screenshots"))
    path.mkdir(parents=True, exist_ok=True)
    return path
