"""The benchmark harness runs, as a user types it, on its tiniest benchmark.

Only grange's side (no Metaflow install in the test suite) and no assertion
on a wall-clock time: benchmarks/ prints figures, tests only check it works.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from flow_runs import clean_env, python

REPO = Path(__file__).resolve().parents[2]


def test_harness_runs_start_end_for_grange(tmp_path: Path) -> None:
    results = tmp_path / "results"
    done = python(
        REPO / "benchmarks" / "run.py",
        "--only",
        "start_end",
        "--grange-only",
        "--repeat",
        "1",
        "--workdir",
        str(tmp_path),
        "--results-dir",
        str(results),
        cwd=tmp_path,
        env=clean_env(),
    )
    row = next(line for line in done.stdout.splitlines() if line.startswith("start_end"))
    assert re.search(r"start_end\s+\d+(\.\d+)? (ms|s)\s+-", row), row
    [report] = results.glob("*.json")
    payload = json.loads(report.read_text())
    [bench] = payload["benchmarks"]
    assert bench["name"] == "start_end"
    assert [r["exit_code"] for r in bench["raw"]["grange"]] == [0]
    assert "metaflow" not in payload["tools"]
