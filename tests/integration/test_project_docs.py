"""docs/project.md holds true: its example flow runs as described, and its error
messages are what grange prints."""

from __future__ import annotations

import re
from pathlib import Path

from grange import Flow
from support import Runner

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "project.md").read_text()
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(kind: str) -> list[str]:
    return [body for lang, body in FENCE.findall(PAGE) if lang == kind]


def test_the_example_runs_as_described(runner: Runner) -> None:
    file = runner.cwd / "flow.py"
    file.write_text(blocks("python")[0])
    mine = runner.run(file).run_id
    branch = runner.run(file, top=("--branch", "exp_1")).run_id
    flow = Flow("TrainFlow")
    start = flow[branch]["start"].task
    assert "branch: test.exp_1 deployment: fraud.test.exp_1.TrainFlow" in start.stdout
    assert "`branch: test.exp_1 deployment: fraud.test.exp_1.TrainFlow`" in PAGE
    assert start.data.runs_seen == [branch]
    assert flow[mine]["start"].task.data.runs_seen == [mine]


def test_the_documented_errors_are_what_grange_prints(runner: Runner) -> None:
    bad_branch, refused = blocks("text")
    file = runner.cwd / "flow.py"
    file.write_text(blocks("python")[0])
    assert runner.run(file, top=("--branch", "My-Branch"), ok=False).stderr == bad_branch
    config = runner.cwd / "config.toml"
    config.write_text("[profiles.dev]\n\n[profiles.dev.policy]\nallow_production_deploy = false\n")
    env = runner.env(GRANGE_CONFIG=str(config), GRANGE_PROFILE="dev")
    assert runner.run(file, top=("--production",), env=env, ok=False).stderr == refused
