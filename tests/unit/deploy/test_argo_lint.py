"""The semantic lint catches what Argo's schema cannot: each rule on a broken manifest."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.support import load_flow
from tests.unit.deploy.support import FLOWS, ROOT, compile_path

from grange.deploy.argo.lint import lint
from grange.exceptions import CompileError
from grange.graph.model import FlowGraph

HELLO = ROOT / "examples" / "hello.py"


def _graph(path: Path) -> FlowGraph:
    return FlowGraph.from_flow_class(load_flow(path))


def _template(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in doc["spec"]["templates"] if t["name"] == name)


def _task(doc: dict[str, Any], dag: str, name: str) -> dict[str, Any]:
    return next(t for t in _template(doc, dag)["dag"]["tasks"] if t["name"] == name)


def _rename(doc: dict[str, Any]) -> None:
    doc["metadata"]["name"] = "Not_Valid"


def _duplicate_template(doc: dict[str, Any]) -> None:
    doc["spec"]["templates"].append(copy.deepcopy(_template(doc, "pick")))


def _two_types(doc: dict[str, Any]) -> None:
    _template(doc, "pick")["dag"] = {"tasks": []}


def _parallelism_on_container(doc: dict[str, Any]) -> None:
    _template(doc, "pick")["parallelism"] = 2


def _deadline_on_dag(doc: dict[str, Any]) -> None:
    _template(doc, "HelloFlow")["activeDeadlineSeconds"] = "60"


def _missing_entrypoint(doc: dict[str, Any]) -> None:
    doc["spec"]["entrypoint"] = "nope"


def _dangling_template(doc: dict[str, Any]) -> None:
    _task(doc, "HelloFlow", "pick")["template"] = "pikc"


def _dependencies(doc: dict[str, Any]) -> None:
    _task(doc, "HelloFlow", "pick")["dependencies"] = ["start"]


def _unknown_depends(doc: dict[str, Any]) -> None:
    _task(doc, "HelloFlow", "pick")["depends"] = "strat.Succeeded"


def _bad_depends(doc: dict[str, Any]) -> None:
    _task(doc, "HelloFlow", "pick")["depends"] = "start.Succeeded +"


def _cycle(doc: dict[str, Any]) -> None:
    _task(doc, "HelloFlow", "start")["depends"] = "end.Succeeded"


def _two_loops(doc: dict[str, Any]) -> None:
    _task(doc, "HelloFlow", "start-foreach")["withItems"] = [1]


def _unknown_input(doc: dict[str, Any]) -> None:
    _template(doc, "train")["container"]["args"].append("{{inputs.parameters.idx}}")


def _unknown_output(doc: dict[str, Any]) -> None:
    _task(doc, "HelloFlow", "publish")["when"] = (
        "'{{tasks.decide.outputs.parameters.switch_step}}' == 'publish'"
    )


def _bad_when(doc: dict[str, Any]) -> None:
    task = _task(doc, "HelloFlow", "publish")
    task["when"] = task["when"].replace("== 'publish'", "== 'publish")


def _not_an_ancestor(doc: dict[str, Any]) -> None:
    _task(doc, "HelloFlow", "pick")["when"] = "'{{tasks.decide.status}}' == 'Succeeded'"


def _unknown_workflow_parameter(doc: dict[str, Any]) -> None:
    _template(doc, "start")["container"]["args"].append("{{workflow.parameters.scael}}")


def _item_outside_a_loop(doc: dict[str, Any]) -> None:
    _task(doc, "HelloFlow", "pick")["arguments"] = {
        "parameters": [{"name": "x", "value": "{{item}}"}]
    }


def _retries_without_strategy(doc: dict[str, Any]) -> None:
    _template(doc, "pick")["container"]["args"].append("{{retries}}")


def _missing_argument(doc: dict[str, Any]) -> None:
    del _task(doc, "HelloFlow", "start-foreach")["arguments"]


BREAKAGES: list[Callable[[dict[str, Any]], None]] = [
    _rename,
    _duplicate_template,
    _two_types,
    _parallelism_on_container,
    _deadline_on_dag,
    _missing_entrypoint,
    _dangling_template,
    _dependencies,
    _unknown_depends,
    _bad_depends,
    _cycle,
    _two_loops,
    _unknown_input,
    _unknown_output,
    _bad_when,
    _not_an_ancestor,
    _unknown_workflow_parameter,
    _item_outside_a_loop,
    _retries_without_strategy,
    _missing_argument,
]


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda f: f.__name__.strip("_"))
def test_lint_catches(breakage: Callable[[dict[str, Any]], None]) -> None:
    man = compile_path(HELLO)
    graph = _graph(HELLO)
    lint(man.workflow_template, graph)  # the compiled manifest is clean
    doc = copy.deepcopy(man.workflow_template)
    breakage(doc)
    with pytest.raises(CompileError) as err:
        lint(doc, graph)
    assert err.value.file and err.value.line


def test_a_step_name_that_clashes_with_a_made_name_is_refused_with_the_step(
    tmp_path: Path,
) -> None:
    flow = tmp_path / "clash.py"
    flow.write_text(
        (FLOWS.parent.parent.parent / "flows" / "valid" / "foreach.py")
        .read_text()
        .replace("self.join", "self.start_foreach")
        .replace("def join(", "def start_foreach(")
    )
    with pytest.raises(CompileError) as err:
        compile_path(flow)
    assert err.value.step == "start_foreach"
    assert "rename step 'start_foreach'" in err.value.render()
