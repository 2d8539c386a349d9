"""docs/decorators.md holds true: its example flow runs as described, its error
messages are what grange prints, and every ``--with`` it shows is accepted."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from decorator_support import flow, statuses
from grange import Flow
from grange.decorators.registry import parse_decospec
from grange.graph import graph_of
from grange.runtime.run import step_options
from support import Runner, load_flow

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "decorators.md").read_text()
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(kind: str) -> list[str]:
    return [body for lang, body in FENCE.findall(PAGE) if lang == kind]


def test_the_example_flow_runs_as_described(runner: Runner) -> None:
    file = runner.cwd / "flow.py"
    file.write_text(blocks("python")[0])
    result = runner.run(file)
    run = Flow("TrainFlow")[result.run_id]
    assert "best alpha: 0.2" in run["end"].task.stdout
    assert run["pick"].task.data.failed == [0.5]
    by_alpha = {t.data.alpha: t for t in run["train"]}
    assert statuses(runner, by_alpha[0.1].pathspec) == ["ok"]
    assert statuses(runner, by_alpha[0.2].pathspec) == ["failed", "ok"]
    assert statuses(runner, by_alpha[0.5].pathspec) == ["failed", "failed", "caught"]
    assert by_alpha[0.1].data.threads == "1"


def test_the_documented_errors_are_what_grange_prints(runner: Runner) -> None:
    shown = [body for body in blocks("") if "Fix:" in body]
    assert len(shown) == 2
    printed = runner.run(flow("invalid_args"), ok=False).output
    assert printed.replace(str(flow("invalid_args")), "flow.py") == shown[0]
    typo = runner.run(flow("environment"), "--with", "retri", ok=False).output
    assert typo == shown[1]


def test_every_documented_with_is_accepted() -> None:
    commands = [line[2:] for body in blocks("console") for line in body.splitlines()]
    specs = []
    for command in commands:
        words = shlex.split(command)
        specs += [words[i + 1] for i, word in enumerate(words) if word == "--with"]
    assert len(specs) >= 7
    example = load_flow(flow("with_flaky"))
    for spec in specs:
        parse_decospec(spec)
        step_options(example, graph_of(example), (spec,))
