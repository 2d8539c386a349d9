"""Parameters: JSON-encoded workflow arguments, typed in an annotation; trigger values."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.argo_schema import validate
from tests.support import load_flow
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
    # ten random characters, not generateName's five: a run id must never come back
    # once Argo's TTL has deleted the Workflow that had it
    assert re.fullmatch(r"paramsflow-[a-z0-9]{10}", wf["metadata"]["name"])
    assert "generateName" not in wf["metadata"]
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


INCLUDE = (
    "from grange import FlowSpec, IncludeFile, step\n\n\n"
    "class IncFlow(FlowSpec):\n"
    "    data = IncludeFile('data', default='x.csv')\n"
    "    extra = IncludeFile('extra')\n\n"
    "    @step\n"
    "    def start(self):\n"
    "        self.next(self.end)\n\n"
    "    @step\n"
    "    def end(self):\n"
    "        pass\n"
)


def test_an_include_file_not_stored_is_refused_with_the_parameter(tmp_path) -> None:
    flow = tmp_path / "inc.py"
    flow.write_text(INCLUDE)
    with pytest.raises(CompileError) as err:
        compile_path(flow)
    assert err.value.parameter == "data" and err.value.line == 5
    assert "IncludeFile" in err.value.message and "argo-workflows create" in (err.value.fix or "")


def test_an_include_file_argument_is_a_reference_to_the_stored_file(tmp_path) -> None:
    from grange.datastore import MemoryBlobStore
    from grange.datastore.included import load
    from grange.deploy.argo.include import store_include_files

    flow = tmp_path / "inc.py"
    flow.write_text(INCLUDE)
    (tmp_path / "x.csv").write_bytes(b"a,b\n1,2\n")
    blobs = MemoryBlobStore()
    cls = load_flow(flow)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)  # the default path is relative to where create runs
        refs = store_include_files(cls, blobs)
    assert set(refs) == {"data"}  # 'extra' has no default: given at trigger time
    assert load(blobs, refs["data"]) == b"a,b\n1,2\n"
    man = compile_path(flow, include_files=refs)
    check_valid(man)
    args = {p["name"]: p for p in man.workflow_template["spec"]["arguments"]["parameters"]}
    assert json.loads(args["data"]["value"]) == refs["data"]
    assert args["extra"]["value"] == "null"  # optional, no file
    assert refs["data"]["key"].startswith("IncFlow/include/")


def test_a_missing_include_file_is_named(tmp_path) -> None:
    from grange.datastore import MemoryBlobStore
    from grange.deploy.argo.include import store_include_files

    flow = tmp_path / "inc.py"
    flow.write_text(INCLUDE)
    with pytest.raises(ParameterError) as err:
        store_include_files(load_flow(flow), MemoryBlobStore(), {"data": tmp_path / "nope.csv"})
    assert err.value.parameter == "data" and "nope.csv" in err.value.message


CONFIG_DEFAULT_FN = """
from grange import Config, FlowSpec, Parameter, step


def double(ctx):
    return ctx.configs.cfg.a * 2


class ConfigDefaultFnFlow(FlowSpec):
    cfg = Config("cfg", default_value={"a": 2})
    b = Parameter("b", default=double, type=int)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_a_default_function_reads_the_bound_configs(tmp_path: Path) -> None:
    # docs/config.md: a parameter's default function reads ctx.configs; create gives it
    (tmp_path / "flow.py").write_text(CONFIG_DEFAULT_FN)
    man = compile_path(tmp_path / "flow.py")
    assert _arguments(man)["b"] == "4"


CONFIG_INCLUDE = """
from grange import Config, FlowSpec, IncludeFile, step


class ConfigIncludeFlow(FlowSpec):
    cfg = Config("cfg", default_value={"file": "notes.txt"})
    notes = IncludeFile("notes", default=lambda ctx: ctx.configs.cfg.file)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_an_include_files_default_function_reads_the_bound_configs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grange.datastore import DatastoreLocation
    from grange.deploy.argo.include import store_include_files
    from grange.graph.configs import bind_configs

    (tmp_path / "flow.py").write_text(CONFIG_INCLUDE)
    (tmp_path / "notes.txt").write_text("hello")
    monkeypatch.chdir(tmp_path)
    cls = load_flow(tmp_path / "flow.py")
    bind_configs(cls)
    blobs = DatastoreLocation.of(str(tmp_path / "store")).open()
    assert set(store_include_files(cls, blobs)) == {"notes"}
