"""Flow parameters as command-line options (grange.cli.params) on a throwaway command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from grange import FlowSpec, IncludeFile, JSONType, Parameter, step
from grange.cli.errors import GuardedCommand
from grange.cli.params import envvar_name, option_dest, parameter_options, parameter_values
from grange.exceptions import ParameterError
from grange.parameters import RESERVED_PARAMETER_NAMES, normalized_name


def stamp(ctx: Any) -> str:
    return f"{ctx.flow_name}:{ctx.parameter_name}"


class TypedFlow(FlowSpec):
    epochs = Parameter("epochs", default=3, help="passes over the data")
    alpha = Parameter("alpha", default=0.5)
    flag = Parameter("flag", type=bool, default=False)
    model = Parameter("model-name", default="m")
    config = Parameter("config", type=JSONType, default={"a": 1})
    stamp = Parameter("stamp", default=stamp)
    notes = IncludeFile("notes", help="a text file")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class RequiredFlow(FlowSpec):
    token = Parameter("token", required=True)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class BadDefaultFlow(FlowSpec):
    count = Parameter("count", default="many", type=int)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def run_command(flow_cls: type, *args: str, env: dict[str, str] | None = None) -> Result:
    """Invoke a stand-in for ``run`` that prints the resolved values as JSON."""

    def callback(**options: Any) -> None:
        values = parameter_values(flow_cls, options)
        click.echo(json.dumps(values, sort_keys=True))

    command = GuardedCommand("run", params=parameter_options(flow_cls), callback=callback)
    return CliRunner().invoke(command, list(args), env=env)


def values(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_defaults_are_used_and_converted_when_nothing_is_given(tmp_path: Path) -> None:
    got = values(run_command(TypedFlow))
    assert got == {
        "alpha": 0.5,
        "config": {"a": 1},
        "epochs": 3,
        "flag": False,
        "model": "m",
        "notes": None,
        "stamp": "TypedFlow:stamp",
    }


def test_given_values_are_converted_to_each_type(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n", encoding="utf-8")
    got = values(
        run_command(
            TypedFlow,
            *("--epochs", "10", "--alpha", "0.1", "--flag", "true", "--model-name", "big"),
            *("--config", '{"b": [1, 2]}', "--stamp", "fixed", "--notes", str(notes)),
        )
    )
    assert got["epochs"] == 10 and got["alpha"] == 0.1 and got["flag"] is True
    assert got["model"] == "big" and got["config"] == {"b": [1, 2]} and got["stamp"] == "fixed"
    assert got["notes"] == "hello\n"


@pytest.mark.parametrize(
    "text,expected", [("true", True), ("no", False), ("1", True), ("off", False)]
)
def test_bool_parameters_take_a_value(text: str, expected: bool) -> None:
    assert values(run_command(TypedFlow, "--flag", text))["flag"] is expected


@pytest.mark.parametrize(
    "option,value,type_name",
    [
        ("--epochs", "many", "int"),
        ("--epochs", "2.5", "int"),
        ("--alpha", "fast", "float"),
        ("--flag", "maybe", "bool"),
        ("--config", "{not json", "JSON"),
    ],
)
def test_a_bad_value_exits_2_naming_parameter_and_type(
    option: str, value: str, type_name: str
) -> None:
    result = run_command(TypedFlow, option, value)
    assert result.exit_code == 2
    name = option.removeprefix("--")
    assert f"'{name}'" in result.stderr
    assert f"valid {type_name} value" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_an_unreadable_include_file_exits_2(tmp_path: Path) -> None:
    result = run_command(TypedFlow, "--notes", str(tmp_path / "missing.txt"))
    assert result.exit_code == 2
    assert "parameter 'notes'" in result.stderr and "missing.txt" in result.stderr


def test_a_required_parameter_must_be_given() -> None:
    result = run_command(RequiredFlow)
    assert result.exit_code == 2
    assert "parameter 'token' is required" in result.stderr
    assert "--token VALUE" in result.stderr
    assert values(run_command(RequiredFlow, "--token", "abc")) == {"token": "abc"}


def test_values_can_come_from_environment_variables() -> None:
    assert values(run_command(TypedFlow, env={"GRANGE_RUN_EPOCHS": "7"}))["epochs"] == 7
    assert values(run_command(TypedFlow, env={"GRANGE_RUN_MODEL_NAME": "env"}))["model"] == "env"
    given = run_command(TypedFlow, "--epochs", "1", env={"GRANGE_RUN_EPOCHS": "7"})
    assert values(given)["epochs"] == 1
    bad = run_command(TypedFlow, env={"GRANGE_RUN_EPOCHS": "seven"})
    assert bad.exit_code == 2 and "'epochs'" in bad.stderr


def test_help_shows_type_default_and_environment_variable() -> None:
    result = run_command(TypedFlow, "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())  # undo click's line wrapping
    assert "--epochs INTEGER passes over the data [int; default: 3]" in text
    assert "--alpha FLOAT [float; default: 0.5]" in text
    assert "--flag BOOLEAN [bool; default: false]" in text
    assert '--config JSON [JSON; default: {"a": 1}]' in text
    assert "[str; default: computed when the run starts by stamp]" in text
    assert "--notes PATH a text file [file path]" in text
    assert "GRANGE_RUN_MODEL_NAME" in text
    required = " ".join(run_command(RequiredFlow, "--help").stdout.split())
    assert "--token TEXT [str; required]" in required


def test_option_names_and_environment_variables_follow_the_parameter_name() -> None:
    model = TypedFlow.model
    assert option_dest(model) == "model_name"
    assert envvar_name(model) == "GRANGE_RUN_MODEL_NAME"
    names = [opt.opts[0] for opt in parameter_options(TypedFlow)]
    assert names == [
        "--epochs",
        "--alpha",
        "--flag",
        "--model-name",
        "--config",
        "--stamp",
        "--notes",
    ]
    assert all(opt.envvar is None for opt in parameter_options(TypedFlow, envvar_prefix=None))


def test_a_bad_default_is_reported_where_it_is_defined() -> None:
    with pytest.raises(ParameterError) as info:
        parameter_options(BadDefaultFlow)
    err = info.value
    assert err.parameter == "count" and err.exit_code == 2
    assert "'many' is not a valid int value" in err.message
    assert err.file == __file__
    assert err.line is not None
    assert "count = Parameter(" in Path(__file__).read_text().splitlines()[err.line - 1]


class FlagFlow(FlowSpec):
    dry_run = Parameter("dry-run", is_flag=True, help="change nothing")
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_an_is_flag_parameter_is_a_bare_option() -> None:
    assert values(run_command(FlagFlow))["dry_run"] is False
    assert values(run_command(FlagFlow, "--dry-run"))["dry_run"] is True
    assert values(run_command(FlagFlow, env={"GRANGE_RUN_DRY_RUN": "yes"}))["dry_run"] is True
    assert values(run_command(FlagFlow, env={"GRANGE_RUN_DRY_RUN": "0"}))["dry_run"] is False
    bad = run_command(FlagFlow, env={"GRANGE_RUN_DRY_RUN": "maybe"})  # never silently false
    assert bad.exit_code == 2 and "GRANGE_RUN_DRY_RUN" in bad.stderr
    text = " ".join(run_command(FlagFlow, "--help").stdout.split())
    assert "--dry-run change nothing [bool; default: false] [env var: GRANGE_RUN_DRY_RUN]" in text


def test_a_bad_value_from_the_environment_names_the_variable() -> None:
    bad = run_command(FlagFlow, env={"GRANGE_RUN_ALPHA": "fast"})
    assert bad.exit_code == 2
    assert "environment variable GRANGE_RUN_ALPHA" in bad.stderr
    assert "set GRANGE_RUN_ALPHA to a value of type float" in bad.stderr
    given = run_command(FlagFlow, "--alpha", "fast")  # from the option: named as the option
    assert given.exit_code == 2
    assert "GRANGE_RUN_ALPHA" not in given.stderr and "--alpha 0.5" in given.stderr


def _option_names(command: click.Command) -> set[str]:
    names = set()
    for param in command.get_params(click.Context(command)):
        if isinstance(param, click.Option):
            names.update(normalized_name(o.lstrip("-")) for o in param.opts + param.secondary_opts)
            names.add(normalized_name(param.name or ""))
    return names


def test_reserved_parameter_names_are_exactly_the_options_of_run_and_resume() -> None:
    from grange.cli.commands.run import make_resume_command, make_run_command

    options = _option_names(make_run_command(RequiredFlow)) | _option_names(
        make_resume_command(RequiredFlow)
    )
    options -= {"token"}  # the flow's own parameter
    # run's --trigger* options yield to a parameter of that name (the top-level ones remain)
    options -= {"trigger", "trigger_event", "trigger_payload", "trigger_json"}
    options -= {"run_trigger_runs", "run_trigger_event", "run_trigger_payload", "run_trigger_json"}
    options -= {"ui", "open_ui"}  # run --ui yields to a parameter of that name too
    assert options == set(RESERVED_PARAMETER_NAMES)


class OddNamesFlow(FlowSpec):
    debug = Parameter("debug", type=bool, default=False)
    flow = Parameter("flow", default="f")
    quiet = Parameter("quiet", default=1)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_names_metaflow_accepts_are_run_options(tmp_path: Path) -> None:
    from grange.cli.flow import build_flow_cli

    seen: dict[str, Any] = {}

    def fake_execute(request: Any) -> int:
        seen.update(request.parameters)
        return 0

    import grange.runtime

    original = grange.runtime.execute
    grange.runtime.execute = fake_execute  # type: ignore[assignment]
    try:
        result = CliRunner().invoke(
            build_flow_cli(OddNamesFlow),
            ["--datastore-root", str(tmp_path), "run", "--debug", "true", "--flow", "x"],
        )
    finally:
        grange.runtime.execute = original  # type: ignore[assignment]
    assert result.exit_code == 0, result.output
    assert seen == {"debug": True, "flow": "x", "quiet": 1}
