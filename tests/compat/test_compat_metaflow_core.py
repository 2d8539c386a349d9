"""Metaflow's core test suite against grange: every failure must have a known cause.

Needs a Metaflow source checkout (its ``test/core`` is not in the PyPI
sdist): ``GRANGE_METAFLOW_SRC=/path/to/metaflow``. Without it the test is
skipped. See docs/compat.md for the command that prints the whole table.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mfcompat.classify import ENVIRONMENT, UNCLASSIFIED, classify, summary_lines
from mfcompat.cli import SRC_ENV
from mfcompat.runner import generate, run_all

pytestmark = pytest.mark.slow


def test_metaflow_core_suite(tmp_path: Path) -> None:
    src = os.environ.get(SRC_ENV)
    if not src:
        pytest.skip(f"no Metaflow checkout: set {SRC_ENV}=/path/to/metaflow (see docs/compat.md)")
    generated = generate(Path(src).resolve(), tmp_path / "cases.json")
    results = run_all(generated, jobs=2)
    for result in results:
        classify(result)
    print("\n".join(summary_lines(results)))
    unknown = [r for r in results if r.category in (UNCLASSIFIED, ENVIRONMENT)]
    assert not unknown, "failures of unknown cause:\n" + "\n\n".join(
        f"{r.key} ({r.phase}):\n{r.output}" for r in unknown
    )
