"""docs/lint.md shows the exact output of `check` on broken flows: keep it true."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "flows" / "broken"
EXAMPLE = re.compile(r"\*\*`(?P<file>[a-z_]+\.py)`\*\*\n\n```\n(?P<output>.*?)```", re.S)
EXAMPLES = EXAMPLE.findall((ROOT / "docs" / "lint.md").read_text(encoding="utf-8"))


def test_the_page_has_examples() -> None:
    assert len(EXAMPLES) >= 12


@pytest.mark.parametrize(("file", "output"), EXAMPLES, ids=[f for f, _ in EXAMPLES])
def test_documented_output_is_what_check_prints(file: str, output: str) -> None:
    result = subprocess.run(
        [sys.executable, file, "check"], cwd=BROKEN, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    printed = (result.stdout + result.stderr).replace(f"{BROKEN}/", "")
    assert printed == output
