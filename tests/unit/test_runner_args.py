"""``Runner``'s keyword arguments: the option names it accepts are the flow CLI's, and
the notebook cell becomes a flow file."""

from __future__ import annotations

import os
from pathlib import Path

import click
import pytest

from grange.cli.flow import build_flow_cli
from grange.exceptions import GrangeError, RunnerError
from grange.runner import cliargs
from grange.runner.nbrun import current_cell, flow_file_text
from grange.runner.runner import RESUME_OPTIONS, RUN_OPTIONS, TOP_LEVEL_OPTIONS
from support import RUN_FLOWS, load_flow

# Options the Runner sets itself, or that only the command line uses.
_OWN = {"--run-id-file", "--trigger-json", "--profile"}


def _cli_flags(params: list[click.Parameter], flow_cls: type) -> set[str]:
    from grange.parameters import flow_parameters

    own = {"--" + p.name for p in flow_parameters(flow_cls)}
    return {p.opts[0] for p in params if isinstance(p, click.Option)} - own - _OWN


def _runner_flags(names: frozenset[str]) -> set[str]:
    return {
        cliargs.option(name, "v", {})[0] for name in names if name not in ("step", "step_to_rerun")
    }


@pytest.mark.parametrize("flow_file", ["params.py", "project_facts.py"])
def test_the_option_names_are_the_flow_clis(flow_file: str) -> None:
    flow = load_flow(RUN_FLOWS / flow_file)
    group = build_flow_cli(flow)
    ctx = click.Context(group)
    run = group.get_command(ctx, "run")
    resume = group.get_command(ctx, "resume")
    assert run is not None and resume is not None
    # --config/--config-value: a flow with configs only (tests/integration/test_config.py)
    configs = {"--config", "--config-value"}
    assert _cli_flags(group.params, flow) | configs == _runner_flags(TOP_LEVEL_OPTIONS)
    # --branch/--production follow run and resume only for a @project flow.
    assert _cli_flags(run.params, flow) | {"--branch", "--production"} == _runner_flags(RUN_OPTIONS)
    assert _cli_flags(resume.params, flow) | {"--branch", "--production"} == _runner_flags(
        RESUME_OPTIONS
    )


def test_keywords_become_options() -> None:
    params = {p.name: p for p in [*vars(load_flow(RUN_FLOWS / "params.py")).values()]
              if hasattr(p, "is_flag")}  # fmt: skip
    words = cliargs.options(
        {"alpha": 0.3, "flag": False, "config": {"k": 1}, "learning_rate": 2, "tags": ["a", "b"],
         "with_": ["retry"], "no_fork": True, "max_workers": None},
        params,
    )  # fmt: skip
    assert words == [
        "--alpha", "0.3", "--flag", "false", "--config", '{"k": 1}', "--learning-rate", "2",
        "--tag", "a", "--tag", "b", "--with", "retry", "--no-fork",
    ]  # fmt: skip


CELL = """from __future__ import annotations
from grange import FlowSpec, step

class CellFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

NBRunner(CellFlow).nbrun()
"""


def test_the_cell_becomes_a_flow_file_cut_after_the_class() -> None:
    text = flow_file_text(CELL, "CellFlow", ["import os\nx = 1", "import os, sys", "not python ("])
    lines = text.splitlines()
    assert lines[0] == "from __future__ import annotations"
    assert lines[1:3] == ["import os", "import os, sys"]
    assert "NBRunner" not in text
    assert lines[-2:] == ['if __name__ == "__main__":', "    CellFlow()"]
    compile(text, "cell.py", "exec")


def test_a_cell_without_the_flow_or_no_cell_is_refused() -> None:
    with pytest.raises(RunnerError, match="class OtherFlow is not defined"):
        flow_file_text(CELL, "OtherFlow")
    with pytest.raises(RunnerError, match="does not parse"):
        flow_file_text("class (", "X")
    with pytest.raises(RunnerError, match="no notebook cell"):
        current_cell(object())


class _Recorded:
    """Stands in for FlowProcess: keeps the command line, starts nothing."""

    def __init__(self, argv: list[str], **_: object) -> None:
        self.argv = argv
        self.returncode = 0
        self.timed_out = False

    def kill(self) -> None:
        pass

    def keep_output(self) -> None:
        pass


_STEP_FLOW = """\
from grange import FlowSpec, Parameter, step


class StepParamFlow(FlowSpec):
    step = Parameter("step", default="a")
    step_to_rerun = Parameter("step_to_rerun", default="b")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    StepParamFlow()
"""


def _argv(monkeypatch: pytest.MonkeyPatch, tmp_path, verb: str, **kwargs: object) -> list[str]:
    from grange.runner import runner as runner_mod

    monkeypatch.setattr(runner_mod, "FlowProcess", _Recorded)
    flow = tmp_path / "stepflow.py"
    flow.write_text(_STEP_FLOW)
    with runner_mod.Runner(str(flow), show_output=False) as r:
        return r._start(verb, dict(kwargs)).command_obj.argv  # type: ignore[no-any-return]


def test_a_parameter_named_step_is_passed_on_run(monkeypatch, tmp_path) -> None:
    argv = _argv(monkeypatch, tmp_path, "run", step="x", step_to_rerun="y")
    run = argv[argv.index("run") :]
    assert "--step" in run and run[run.index("--step") + 1] == "x"
    assert "--step_to_rerun" in run or "--step-to-rerun" in run


def test_resume_takes_one_step_to_rerun(monkeypatch, tmp_path) -> None:
    argv = _argv(monkeypatch, tmp_path, "resume", step="end")
    assert argv[argv.index("resume") + 1] == "end"
    with pytest.raises(RunnerError, match="both step_to_rerun and step"):
        _argv(monkeypatch, tmp_path, "resume", step="end", step_to_rerun="start")


_ENV_FLOW = """\
import os
from pathlib import Path

from grange import FlowSpec, JSONType, Parameter, step

NEED = os.environ["NEEDED"] + Path("here.txt").read_text()


class EnvFlow(FlowSpec):
    xs = Parameter("xs", type=JSONType, default="[]")
    on = Parameter("on", default=True)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def _env_argv(monkeypatch, tmp_path, env: dict[str, str] | None, **kwargs: object) -> list[str]:
    from grange.runner import runner as runner_mod

    monkeypatch.setattr(runner_mod, "FlowProcess", _Recorded)
    monkeypatch.delenv("NEEDED", raising=False)
    flow = tmp_path / "envflow.py"
    flow.write_text(_ENV_FLOW)
    (tmp_path / "cwd").mkdir(exist_ok=True)
    (tmp_path / "cwd" / "here.txt").write_text("!")
    with runner_mod.Runner(str(flow), show_output=False, env=env, cwd=tmp_path / "cwd") as r:
        return r._start("run", dict(kwargs)).command_obj.argv  # type: ignore[no-any-return]


def test_the_flow_is_read_with_the_runners_env_and_cwd(monkeypatch, tmp_path) -> None:
    before = (dict(os.environ), os.getcwd())
    argv = _env_argv(monkeypatch, tmp_path, {"NEEDED": "v"}, xs=[1, 2], on=False)
    assert (dict(os.environ), os.getcwd()) == before
    run = argv[argv.index("run") :]
    assert run[run.index("--xs") + 1] == "[1, 2]" and run.count("--xs") == 1
    assert run[run.index("--on") + 1] == "false"


def test_a_typed_value_for_an_unreadable_flow_is_refused(monkeypatch, tmp_path) -> None:
    with pytest.raises(RunnerError, match=r"depends on the parameter's type.*KeyError"):
        _env_argv(monkeypatch, tmp_path, None, on=False)
    argv = _env_argv(monkeypatch, tmp_path, None, xs="[1]")
    assert argv[argv.index("--xs") + 1] == "[1]"


def test_the_cells_are_read_as_ipython_transformed_them() -> None:
    class History:
        input_hist_raw = ["", "%matplotlib inline\nimport numpy", "%%time\n" + CELL]
        input_hist_parsed = [
            "",
            "get_ipython().run_line_magic('matplotlib', 'inline')\nimport numpy",
            CELL,
        ]

    class Shell:
        history_manager = History()

    cell, earlier = current_cell(Shell())
    assert cell == CELL
    text = flow_file_text(cell, "CellFlow", earlier)
    assert "import numpy" in text.splitlines()


def test_configs_become_top_level_options() -> None:
    words = cliargs.options(
        {"config": [("cfg", Path("a.json"))], "config_value": {"cfg": {"k": 1}, "b": '{"x": 2}'}}
    )
    assert words == [
        "--config", "cfg", "a.json", "--config-value", "cfg", '{"k": 1}', "--config-value", "b",
        '{"x": 2}',
    ]  # fmt: skip
    with pytest.raises(GrangeError, match="pairs or a dict"):
        cliargs.options({"config": ["cfg"]})
