"""Parameter types, defaults, conversion errors, IncludeFile, and self.<name>."""

from __future__ import annotations

import sys

import pytest

from grange import FlowSpec, IncludeFile, JSONType, Parameter, step
from grange.exceptions import ParameterError
from grange.parameters import ParameterContext, flow_parameters, resolve_values


class ParamFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5, help="learning rate")
    epochs = Parameter("epochs", default=3)
    name_ = Parameter("model-name", default="m")
    debug = Parameter("debug", type=bool, default=False)
    config = Parameter("config", type=JSONType, default='{"a": 1}')
    stamp = Parameter("stamp", default=lambda ctx: f"{ctx.flow_name}:{ctx.parameter_name}")
    token = Parameter("token", required=True)
    tags = Parameter("tags", default="a,b", separator=",")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_types_are_inferred_from_defaults() -> None:
    types = {p.name: p.type_name for p in flow_parameters(ParamFlow)}
    assert types == {
        "alpha": "float",
        "epochs": "int",
        "model-name": "str",
        "debug": "bool",
        "config": "JSON",
        "stamp": "str",
        "token": "str",
        "tags": "str",
    }


def test_resolve_converts_given_values_and_fills_defaults() -> None:
    values = resolve_values(
        ParamFlow, {"alpha": "0.1", "epochs": "10", "debug": "true", "token": "t"}
    )
    assert values["alpha"] == 0.1
    assert values["epochs"] == 10
    assert values["debug"] is True
    assert values["config"] == {"a": 1}
    assert values["name_"] == "m"
    assert values["stamp"] == "ParamFlow:stamp"
    assert values["tags"] == ["a", "b"]


def test_dash_and_underscore_names_are_the_same_parameter() -> None:
    values = resolve_values(ParamFlow, {"model_name": "x", "token": "t"})
    assert values["name_"] == "x"


@pytest.mark.parametrize(
    ("given", "param", "expected"),
    [
        ({"alpha": "fast"}, "alpha", "float"),
        ({"epochs": "2.5"}, "epochs", "int"),
        ({"debug": "maybe"}, "debug", "bool"),
        ({"config": "{not json"}, "config", "JSON"),
    ],
)
def test_bad_values_name_the_parameter_and_type(given, param, expected) -> None:
    with pytest.raises(ParameterError) as info:
        resolve_values(ParamFlow, {"token": "t", **given})
    err = info.value
    assert err.parameter == param
    assert f"parameter '{param}'" in err.message
    assert expected in err.message
    assert f"--{param}" in (err.fix or "")


def test_missing_required_parameter_is_an_error() -> None:
    with pytest.raises(ParameterError, match="'token' is required") as info:
        resolve_values(ParamFlow, {})
    assert "--token" in (info.value.fix or "")


def test_unknown_parameter_suggests_the_closest() -> None:
    with pytest.raises(ParameterError, match="no parameter 'alpah'") as info:
        resolve_values(ParamFlow, {"alpah": "1", "token": "t"})
    assert "did you mean 'alpha'" in (info.value.fix or "")


def test_callable_default_gets_a_context() -> None:
    seen: list[ParameterContext] = []

    def default(ctx: ParameterContext) -> int:
        seen.append(ctx)
        return 41

    param = Parameter("n", default=default, type=int)
    assert param.default_value("SomeFlow") == 41
    assert seen[0].flow_name == "SomeFlow" and seen[0].parameter_name == "n"
    assert seen[0].user_name


def test_callable_default_that_raises_names_the_parameter() -> None:
    param = Parameter("n", default=lambda ctx: 1 / 0, type=int)
    with pytest.raises(ParameterError, match="default of parameter 'n' raised ZeroDivisionError"):
        param.default_value("F")


def test_callable_default_result_is_type_checked() -> None:
    param = Parameter("n", default=lambda ctx: "many", type=int)
    with pytest.raises(ParameterError, match="not a valid int"):
        param.default_value("F")


def test_unsupported_type_is_a_definition_problem_not_a_crash() -> None:
    param = Parameter("x", type=list)  # must not raise inside the user's class body
    assert "type 'list' of parameter 'x' is not supported" in param.definition_problems()[0]


def test_definition_problems() -> None:
    assert Parameter("ok", default=1).definition_problems() == []
    assert "reserved" in Parameter("max-workers").definition_problems()[0]
    assert "not valid" in Parameter("bad name").definition_problems()[0]
    assert "separator" in Parameter("n", type=int, separator=",").definition_problems()[0]
    assert (
        "default of parameter 'n'" in Parameter("n", type=int, default="x").definition_problems()[0]
    )


def test_values_are_reachable_as_attributes_and_read_only() -> None:
    flow = ParamFlow(use_cli=False)
    flow._grange_parameter_values = resolve_values(ParamFlow, {"token": "t"})
    assert flow.alpha == 0.5
    assert flow.name_ == "m"
    with pytest.raises(ParameterError, match="cannot be assigned"):
        flow.alpha = 3
    assert isinstance(ParamFlow.alpha, Parameter)


def test_assigning_or_deleting_a_parameter_is_an_attribute_error_at_the_users_line() -> None:
    # Metaflow raises AttributeError (a property without a setter); flows catch it.
    flow = ParamFlow(use_cli=False)
    flow._grange_parameter_values = resolve_values(ParamFlow, {"token": "t"})
    line = sys._getframe().f_lineno + 2
    with pytest.raises(AttributeError) as info:
        flow.alpha = 3
    err = info.value
    assert isinstance(err, ParameterError) and err.exit_code == 2
    assert (err.file, err.line, err.parameter) == (__file__, line, "alpha")
    assert "read-only" in err.message
    with pytest.raises(AttributeError, match="cannot be deleted"):
        del flow.alpha
    assert flow.alpha == 0.5


def test_is_flag_makes_a_bool_parameter_defaulting_to_false() -> None:
    param = Parameter("dry-run", is_flag=True)
    assert (param.type, param.default, param.is_flag) == (bool, False, True)
    assert param.definition_problems() == []
    assert Parameter("on", is_flag=True, default=True).default is True
    assert (
        "is_flag=True but is not of type bool"
        in Parameter("n", is_flag=True, type=int).definition_problems()[0]
    )


@pytest.mark.parametrize("name", ["debug", "quiet", "metadata", "name", "input", "run-id"])
def test_names_of_other_commands_options_are_not_reserved(name: str) -> None:
    assert Parameter(name).definition_problems() == []


def test_parameter_outside_a_run_says_so() -> None:
    flow = ParamFlow(use_cli=False)
    with pytest.raises(AttributeError, match="no value outside a run"):
        _ = flow.alpha


def test_include_file_reads_text_and_bytes(tmp_path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    assert IncludeFile("data").convert(str(path)) == "a,b\n1,2\n"
    assert IncludeFile("data", is_text=False).convert(str(path)) == b"a,b\n1,2\n"


def test_include_file_default_is_read_at_resolve_time(tmp_path) -> None:
    path = tmp_path / "cfg.txt"
    path.write_text("hello", encoding="utf-8")

    class FileFlow(FlowSpec):
        data = IncludeFile("data", default=str(path))

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    assert resolve_values(FileFlow, {}) == {"data": "hello"}


def test_include_file_missing_names_parameter_and_path(tmp_path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(ParameterError) as info:
        IncludeFile("data").convert(str(missing))
    assert "parameter 'data'" in info.value.message and "nope.csv" in info.value.message


def test_include_file_not_text(tmp_path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ParameterError, match="not valid utf-8"):
        IncludeFile("blob").convert(str(path))


def test_inherited_parameters_are_part_of_the_flow(valid_flow) -> None:
    cls = valid_flow("inherited")
    assert [p.name for p in flow_parameters(cls)] == ["seed", "depth"]
    assert resolve_values(cls, {"seed": "2"}) == {"seed": 2, "depth": 3}


def test_the_parameters_of_docs_flows_md_are_valid() -> None:
    from pathlib import Path

    from grange import FlowSpec
    from grange.parameters import RESERVED_PARAMETER_NAMES, flow_parameters, normalized_name

    text = (Path(__file__).parents[2] / "docs" / "flows.md").read_text()
    block = next(b for b in text.split("```python")[1:] if "class SweepFlow" in b)
    scope: dict[str, object] = {"FlowSpec": FlowSpec}
    exec(block.split("```")[0], scope)
    params = flow_parameters(scope["SweepFlow"])  # type: ignore[arg-type]
    assert {p.name for p in params} >= {"debug", "dry-run"}
    for param in params:
        assert param.definition_problems() == [], param
        assert normalized_name(param.name) not in RESERVED_PARAMETER_NAMES
