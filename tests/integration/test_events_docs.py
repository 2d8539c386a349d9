"""docs/events.md (sections "Decorators" and "Testing a triggered flow locally")
holds true: its flows pass lint, its tables resolve as shown, and its local
testing examples print what the page says."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from grange import FlowSpec, Run, project, step, trigger_on_finish
from grange.decorators.project import project_info
from grange.decorators.triggers import triggers_of
from grange.graph import graph_of
from grange.graph.lint import lint
from support import Runner, load_flow

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "events.md").read_text()
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def section(title: str) -> str:
    start = PAGE.index(f"\n## {title}\n")
    end = PAGE.find("\n## ", start + 1)
    return PAGE[start : end if end != -1 else len(PAGE)]


def files(title: str) -> dict[str, str]:
    """The section's Python blocks that are whole files (first line ``# name.py``)."""
    out = {}
    for lang, body in FENCE.findall(section(title)):
        first = body.splitlines()[0]
        if lang == "python" and first.startswith("# ") and first.endswith(".py"):
            out[first[2:]] = body
    return out


def test_the_trigger_example_passes_lint(tmp_path: Path) -> None:
    path = tmp_path / "events.py"
    path.write_text(files("Decorators")["events.py"])
    cls = load_flow(path)
    assert lint(graph_of(cls)) == []
    deps = triggers_of(cls, None).dependencies  # type: ignore[union-attr]
    assert [(d.name, dict(d.parameters)) for d in deps] == [
        ("table_loaded", {"table": "table_name"}),
        ("features_ready", {"day": "day", "version": "feature_version"}),
    ]


def test_the_trigger_on_finish_table() -> None:
    rows = re.findall(r"^\| `(flow=.*?)` \| `(metaflow\.[^`]+)`", section("Decorators"), re.M)
    assert len(rows) == 4
    for written, expected in rows:
        call = ast.parse(f"f({written})", mode="eval").body
        assert isinstance(call, ast.Call)
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}

        @project(name="fraud")
        @trigger_on_finish(**kwargs)
        class DocFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        info = project_info(DocFlow, user="ann", production=True)
        assert triggers_of(DocFlow, info).dependencies[0].name == expected  # type: ignore[union-attr]


def test_the_six_field_cron_example_converts_as_the_page_says() -> None:
    from grange.decorators.cron import normalize_cron

    text = " ".join(section("Decorators").split())
    written, standard = re.findall(r'\(`"([^"]+)"`, Monday to Friday, becomes `([^`]+)`', text)[0]
    assert normalize_cron(written, "doc") == standard == "0 6 * * 1-5"


def test_the_local_testing_examples_print_what_the_page_says(runner: Runner) -> None:
    examples = files("Testing a triggered flow locally")
    for name, body in examples.items():
        (runner.cwd / name).write_text(body)
    env = runner.env(GRANGE_USER="ann")
    assert runner.run(runner.cwd / "train.py", env=env).run_id == "1"
    score = runner.run(runner.cwd / "score.py", top=("--trigger", "TrainFlow/1"), env=env)
    assert "[1/start/1] scoring with weights-v1 from TrainFlow/1" in score.stdout + score.stderr
    assert Run(f"ScoreFlow/{score.run_id}").trigger.event.name == (  # type: ignore[union-attr]
        "metaflow.fraud.user.ann.TrainFlow.end"
    )
    assert "`metaflow.fraud.user.ann.TrainFlow.end`" in PAGE
    top = ("--trigger-event", "new_data", "--trigger-payload", "date=2026-01-01")
    load = runner.run(runner.cwd / "load.py", top=top, env=env)
    assert "[1/start/1] loading 2026-01-01 event: new_data" in load.stdout + load.stderr
    plain = runner.run(runner.cwd / "load.py", env=env)
    assert "[2/start/1] loading today event: None" in plain.stdout + plain.stderr
    page = section("Testing a triggered flow locally")
    for line in (
        "python load.py --trigger-event new_data --trigger-payload date=2026-01-01 run",
        "# [1/start/1] loading 2026-01-01 event: new_data",
        "# [2/start/1] loading today event: None",
        "python score.py --trigger TrainFlow/1 run # [1/start/1] scoring with weights-v1 from "
        "TrainFlow/1",
    ):
        assert line in page, line


def test_the_readme_two_flow_example_runs_as_its_triggers_would(runner: Runner) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = re.findall(r"```python\n(# (training|inference)\.py\n.*?)```", readme, re.S)
    assert [name for _, name in blocks] == ["training", "inference"]
    for body, name in blocks:
        assert '__name__ == "__main__"' in body  # copied as is, the file runs
        (runner.cwd / f"{name}.py").write_text(body)
    top = ("--trigger-event", "new_data", "--trigger-payload", "date=2026-01-01")
    training = runner.run(runner.cwd / "training.py", top=top)
    assert Run(f"TrainingFlow/{training.run_id}").data.model == "model-for-2026-01-01"
    upstream = ("--trigger", f"TrainingFlow/{training.run_id}")
    inference = runner.run(runner.cwd / "inference.py", top=upstream)
    assert Run(f"InferenceFlow/{inference.run_id}").data.model == "model-for-2026-01-01"
