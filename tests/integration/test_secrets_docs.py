"""docs/secrets.md holds true: its example flow runs as described, and its lint error
is what grange prints."""

from __future__ import annotations

import json
import re
from pathlib import Path

from grange import Flow
from support import FLOWS, Runner

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "secrets.md").read_text()
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(kind: str) -> list[str]:
    return [body for lang, body in FENCE.findall(PAGE) if lang == kind]


def test_the_example_flow_runs_as_described(runner: Runner) -> None:
    folder = runner.cwd / "secrets"
    folder.mkdir()
    secret = {"WAREHOUSE_USER": "analyst", "WAREHOUSE_PASSWORD": "hunter2-but-longer"}
    assert json.dumps(secret) in PAGE
    (folder / "warehouse.json").write_text(json.dumps(secret))
    file = runner.cwd / "flow.py"
    file.write_text(blocks("python")[0])
    result = runner.run(file, env=runner.env(GRANGE_SECRETS_DIR=str(folder)))
    run = Flow("ReportFlow")[result.run_id]
    assert "connecting as **** with ****" in run["start"].task.stdout
    assert "rows: 42 - password here: None" in run["end"].task.stdout
    assert "hunter2-but-longer" not in result.output


def test_the_documented_lint_error_is_what_grange_prints(runner: Runner) -> None:
    shown = next(body for body in blocks("") if "Invalid flow" in body)
    file = FLOWS / "secrets" / "invalid.py"
    printed = runner.run(file, ok=False).output
    assert printed.replace(str(file), "flow.py") == shown
