"""Parameters: JSON-encoded workflow arguments, typed in an annotation; trigger values."""

from __future__ import annotations

import json

import pytest
from tests.argo_schema import validate
from tests.unit.deploy.support import FLOWS, check_valid, compile_path

from grange.deploy.argo import trigger_workflow
from grange.deploy.argo.parameters import MAX_VALUE_BYTES
from grange.exceptions import CompileError, ParameterError


def _arguments(man) -> dict:
    params = man.workflow_template["spec"]["arguments"]["parameters"]
    return {p["name"]: p.get("value", "<none>") for p in params}


def test_every_type_is_json_encoded() -> None:
    man = compile_path(FLOWS / "params.py")
    check_valid(man)
    assert _arguments(man) == {
        "text": '"hello"',
        "count": "3",
        "ratio": "0.5",
        "flag": "false",
        "config": '{"layers":[1,2],"name":"x"}',
        "nothing": "null",
        "needed": "<none>",  # required: Argo refuses a run that does not give it
        "derived": '"ParamsFlow-default"',  # a callable default, evaluated at compile time
    }
    declared = json.loads(man.workflow_template["metadata"]["annotations"]["grange.dev/parameters"])
    assert {p["name"]: p["type"] for p in declared}["config"] == "JSON"
    assert {p["name"]: p["required"] for p in declared}["needed"] is True


def test_trigger_encodes_values_and_keeps_defaults() -> None:
    man = compile_path(FLOWS / "params.py")
    wf = trigger_workflow(man.workflow_template, {"needed": 7, "config": {"a": None}}, "bob")
    assert validate(wf) == []
    assert wf["metadata"]["generateName"] == "paramsflow-"
    assert wf["spec"]["workflowTemplateRef"] == {"name": "paramsflow"}
    assert wf["spec"]["arguments"]["parameters"] == [
        {"name": "config", "value": '{"a":null}'},
        {"name": "needed", "value": "7"},
    ]
    assert wf["metadata"]["annotations"]["grange.dev/triggered-by"] == "bob"


def test_trigger_refuses_unknown_missing_and_oversized_values() -> None:
    man = compile_path(FLOWS / "params.py")
    with pytest.raises(ParameterError, match="no parameter 'nope'"):
        trigger_workflow(man.workflow_template, {"needed": 1, "nope": 1}, "bob")
    with pytest.raises(ParameterError, match="'needed' is required"):
        trigger_workflow(man.workflow_template, {}, "bob")
    with pytest.raises(ParameterError, match="bytes of JSON"):
        trigger_workflow(man.workflow_template, {"needed": 1, "text": "x" * MAX_VALUE_BYTES}, "b")


def test_an_oversized_default_is_refused_at_compile_time(tmp_path) -> None:
    flow = tmp_path / "big.py"
    flow.write_text(
        "from grange import FlowSpec, Parameter, step\n\n\n"
        "class BigFlow(FlowSpec):\n"
        f"    blob = Parameter('blob', default='{'x' * (MAX_VALUE_BYTES + 10)}')\n\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.next(self.end)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
    )
    with pytest.raises(CompileError) as err:
        compile_path(flow)
    assert err.value.parameter == "blob" and err.value.line == 5


def test_include_file_is_refused_with_the_parameter(tmp_path) -> None:
    flow = tmp_path / "inc.py"
    flow.write_text(
        "from grange import FlowSpec, IncludeFile, step\n\n\n"
        "class IncFlow(FlowSpec):\n"
        "    data = IncludeFile('data', default='x.csv')\n\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.next(self.end)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
    )
    with pytest.raises(CompileError) as err:
        compile_path(flow)
    assert err.value.parameter == "data" and "IncludeFile" in err.value.render()
