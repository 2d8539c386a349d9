"""End to end without a cluster: flows compiled by grange's Argo compiler (with a
real code package in the datastore), validated strictly, triggered, and run by the
local executor (tests/argo_executor), whose pods run the bootstrap command; the
artifacts, read through the client, equal those of ``python flow.py run``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.argo_schema import validate

from argo_executor import WorkflowResult, run_workflow
from grange import Flow, metadata, namespace
from grange.datastore import DatastoreLocation
from grange.deploy.argo import ArgoSettings, compile_flow
from grange.deploy.argo.trigger import trigger_workflow
from grange.environments.package import package_flow
from grange.graph import graph_of
from grange.runtime.run import step_options
from support import FLOWS, RUN_FLOWS, USER, Runner, load_flow


def deploy(root: str, file: Path, **settings: Any) -> dict[str, Any]:
    """What ``argo-workflows create`` would submit: the WorkflowTemplate."""
    cls = load_flow(file)
    graph = graph_of(cls)
    location = DatastoreLocation.of(root)
    package = package_flow(str(file), location, cls.__name__)
    manifests = compile_flow(
        cls,
        graph,
        step_options(cls, graph, ()),
        ArgoSettings(
            datastore_root=str(location),
            package=package,
            image="python:3.11",
            user=USER,
            **settings,
        ),
    )
    for doc in manifests.documents():
        assert validate(doc) == []
    return manifests.workflow_template


def trigger(
    runner: Runner,
    template: dict[str, Any],
    params: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[WorkflowResult, str]:
    workflow = trigger_workflow(template, params or {}, USER)
    assert validate(workflow) == []
    result = run_workflow(
        template,
        workflow,
        env=runner.env(GRANGE_CODE_DIR=str(runner.cwd / "code"), **(env or {})),
        cwd=runner.cwd,
        time_scale=0.001,
    )
    return result, f"argo-{result.name}"


def artifacts(flow: str, run_id: str) -> dict[str, list[str]]:
    run = Flow(flow)[run_id]
    return {
        step.id: sorted(
            json.dumps({a.id: repr(a.data) for a in task}, sort_keys=True) for task in step.tasks()
        )
        for step in run
    }


GOLDEN_FLOWS = [
    ("valid/linear", {}),
    ("valid/branch", {}),
    ("valid/nested_branch", {}),
    ("valid/foreach", {}),
    ("valid/nested_foreach", {}),
    ("valid/switch", {}),
    ("valid/inherited", {}),
    ("run/params", {"alpha": 0.25, "names": "x,y", "config": {"k": 3}}),
    ("run/argo_shapes", {}),
]


@pytest.mark.parametrize(("flow", "params"), GOLDEN_FLOWS, ids=[f[0] for f in GOLDEN_FLOWS])
def test_compiled_flow_runs_as_locally(runner: Runner, flow: str, params: dict[str, Any]) -> None:
    file = FLOWS / f"{flow}.py"
    args = [
        x
        for k, v in params.items()
        for x in (f"--{k}", json.dumps(v) if isinstance(v, dict) else str(v))
    ]
    local = runner.run(file, *args)
    result, run_id = trigger(runner, deploy(str(runner.root), file), params)
    assert result.phase == "Succeeded", result.explain()
    name = load_flow(file).__name__
    assert artifacts(name, run_id) == artifacts(name, str(local.run_id))
    run = Flow(name)[run_id]
    assert run.successful and run.finished
    assert "runtime:argo" in run.system_tags


@pytest.mark.slow
def test_a_wider_foreach_in_small_batches(runner: Runner) -> None:
    file = RUN_FLOWS / "foreach_kinds.py"
    template = deploy(str(runner.root), file, foreach_batch_size=4, max_num_splits=100)
    result, run_id = trigger(runner, template, {"size": 10})
    assert result.phase == "Succeeded", result.explain()
    batches = [n for n in result.nodes if n.type == "DAG" and n.template.endswith("batch")]
    assert len(batches) == 3  # 0-3, 4-7, 8-9
    run = Flow("ForeachKindsFlow")[run_id]
    assert sorted(t["got"].data for t in run["work"].tasks()) == [f"i{n}" for n in range(10)]


def test_a_retry_that_succeeds(runner: Runner) -> None:
    template = deploy(str(runner.root), FLOWS / "decorators" / "flaky.py")
    result, run_id = trigger(runner, template, env={"FLAKY_FAILS": "1"})
    assert result.phase == "Succeeded", result.explain()
    assert [n.retries for n in result.pods() if n.template == "flaky"] == [1]
    assert Flow("FlakyFlow")[run_id].data.final_attempt == 1


def test_a_failure_then_resume_locally(runner: Runner) -> None:
    template = deploy(str(runner.root), RUN_FLOWS / "fail.py")
    result, run_id = trigger(runner, template, env={"FAIL_ITEM": "3"})
    assert result.phase == "Failed"
    assert result.exit is not None and result.exit.phase == "Succeeded"
    assert not Flow("FailRunFlow")[run_id].successful
    resumed = runner.resume("fail", "--origin-run-id", run_id)
    run = Flow("FailRunFlow")[str(resumed.run_id)]
    assert run.successful and run.data.outs == [10, 20, 30]
    assert sorted(t.data.out for t in run["work"] if t.origin_pathspec) == [10, 20]


def test_on_a_loopback_s3_datastore(runner: Runner, s3_server: Any, s3_bucket: str) -> None:
    root = f"s3://{s3_bucket}/runs"
    env = {"GRANGE_DATASTORE_ROOT": root, **s3_server.env()}
    file = FLOWS / "valid" / "nested_foreach.py"
    local = runner.run(file, env=runner.env(**env))
    result, run_id = trigger(runner, deploy(root, file), env=env)
    assert result.phase == "Succeeded", result.explain()
    metadata(f"local@{root}")
    namespace(None)
    name = load_flow(file).__name__
    assert artifacts(name, run_id) == artifacts(name, str(local.run_id))
