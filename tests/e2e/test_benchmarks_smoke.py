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


def test_ui_benchmark_runs_at_a_tiny_size(tmp_path: Path) -> None:
    done = python(
        REPO / "benchmarks" / "ui.py",
        "--runs",
        "12",
        "--width",
        "3",
        "--log-mib",
        "1",
        "--repeat",
        "2",
        "--workdir",
        str(tmp_path),
        cwd=tmp_path,
        env=clean_env(),
    )
    rows = [line for line in done.stdout.splitlines() if re.search(r"\d ms\s+\d+\.\d ms", line)]
    labels = " | ".join(rows)
    for what in (
        "runs page 1 of 12",
        "tag=nightly",
        "3-task foreach",
        "1 MiB of logs",
    ):
        assert what in labels, done.stdout
    assert "default card, 100k-row DataFrame: HTML" in done.stdout, done.stdout
    assert "HTTP" not in done.stdout, done.stdout
    assert list(tmp_path.iterdir()) == [], "the benchmark left its store behind"
