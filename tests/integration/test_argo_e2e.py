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
from grange.deploy.argo.include import store_include_files
from grange.deploy.argo.trigger import trigger_workflow
from grange.environments.package import package_flow
from grange.environments.podenv import locks_for_pods
from grange.graph import graph_of
from grange.graph.configs import bind_configs
from grange.runtime.run import step_options
from support import FLOWS, RUN_FLOWS, USER, Runner, load_flow


def deploy(
    root: str, file: Path, *, decospecs: tuple[str, ...] = (), **settings: Any
) -> dict[str, Any]:
    """What ``argo-workflows create`` would submit: the WorkflowTemplate (with
    ``--with`` ``decospecs``: in the steps' options and every pod's arguments)."""
    cls = load_flow(file)
    bind_configs(cls)  # as create: the configs' defaults, baked into the template
    graph = graph_of(cls)
    location = DatastoreLocation.of(root)
    package = package_flow(str(file), location, cls.__name__)
    included = store_include_files(cls, location.open())  # paths: from the current directory
    options = step_options(cls, graph, decospecs)
    # @pypi/@conda steps: their locks resolved for the pods and stored, as create does
    locks, lock_env = locks_for_pods({s: o.environment for s, o in options.items()}, {}, location)
    manifests = compile_flow(
        cls,
        graph,
        options,
        ArgoSettings(
            datastore_root=str(location),
            package=package,
            image="python:3.11",
            user=USER,
            include_files=included,
            environments=locks,
            environment_env=lock_env,
            **{
                "top_level_args": [x for spec in decospecs for x in ("--with", spec)],
                **settings,
            },
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
    assert run.code is not None and f"class {name}" in run.code.flowspec


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


def _golden_cases() -> list[tuple[str, Path | str]]:
    """Every flow with a golden file (tests/unit/deploy/test_argo_golden.py) that compiles."""
    from tests.unit.deploy.test_argo_golden import CASES, GOLDEN

    return [(name, src) for name, src in CASES if (GOLDEN / f"{name}.yaml").exists()]


GOLDEN_CASES = _golden_cases()


# What a golden flow needs to run: parameters without a default, or why it cannot run.
NEEDS: dict[str, dict[str, Any]] = {
    "flows/deploy-params": {"needed": 7},
    "flows/deploy-trigger_event": {"date": "2024-05-01"},
    "flows/deploy-trigger_events_and": {"version": 2},
}
CANNOT_RUN = {
    "flows/deploy-mixed": "a join that is also a switch: `run` refuses it (lint)",
    "docs/secrets-0": "reads a secret from the user's own secrets folder",
    "docs/events-0": "a decorator excerpt without `if __name__ == '__main__'`: runs nothing",
    "docs/events-3": "reads current.trigger.run: runs when triggered (test_argo_events.py)",
    # A notebook cell: NBRunner writes the file with its `if __name__ == '__main__'` line.
    "docs/programmatic-2": "a notebook cell without `if __name__ == '__main__'`: runs nothing",
    "examples/ml_workflow-ingest": "reads data.csv from where it runs (not in the code package)",
    "examples/ml_workflow-train": "reads current.trigger.run: runs when triggered",
}
# Flows `run` cannot run here (a @kubernetes step goes to a cluster): Argo side only.
# docs/project-0's steps list the flow's runs, which differ by construction (the local
# run, made second, sees the Argo run too).
NO_LOCAL_RUN = {"flows/deploy-decorated", "docs/project-0"}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "source"), GOLDEN_CASES, ids=[c[0] for c in GOLDEN_CASES])
def test_every_golden_flow_runs_as_locally(runner: Runner, name: str, source: Path | str) -> None:
    if name in CANNOT_RUN:
        pytest.skip(CANNOT_RUN[name])
    if isinstance(source, str):  # a whole flow from docs/, in a folder of its own
        file = runner.cwd / name.replace("/", "_") / "flow.py"
        file.parent.mkdir()
        file.write_text(source)
    else:
        file = source
    params = NEEDS.get(name, {})
    result, run_id = trigger(runner, deploy(str(runner.root), file), params)
    assert result.phase == "Succeeded", result.explain()
    flow = load_flow(file).__name__
    assert Flow(flow)[run_id].successful
    if name not in NO_LOCAL_RUN:
        local = runner.run(file, *[x for k, v in params.items() for x in (f"--{k}", str(v))])
        assert artifacts(flow, run_id) == artifacts(flow, str(local.run_id))


@pytest.mark.parametrize(
    ("flow", "check"),
    [
        ("retry_catch", lambda run: run.data.error_type == "builtins.KeyError"),
        ("catch_crash", lambda run: "FailureHandledByCatch" in run.data.crashed_type),
    ],
)
def test_catch_keeps_the_flow_going(runner: Runner, flow: str, check: Any) -> None:
    """@catch as locally: a step's exception caught on its last attempt, and (a pod
    killed) the fallback attempt Argo's extra retry runs."""
    file = FLOWS / "decorators" / f"{flow}.py"
    result, run_id = trigger(runner, deploy(str(runner.root), file))
    assert result.phase == "Succeeded", result.explain()
    assert check(Flow(load_flow(file).__name__)[run_id])


def test_a_project_branch_on_argo(runner: Runner) -> None:
    """@project: the deployment's --branch reaches every pod (current.*) and the run's
    system tags, as in a local run of that branch; client calls in a deployed run's steps
    read that branch's runs (as Metaflow's deployed runs read their deployment's
    namespace), where a local run's read the user's. The branch has a dash, as a CI
    job names a pull request's (docs/cicd.md)."""
    file = RUN_FLOWS / "project_facts.py"
    template = deploy(str(runner.root), file, top_level_args=["--branch", "exp-1"])
    result, run_id = trigger(runner, template)
    assert result.phase == "Succeeded", result.explain()
    run = Flow("ProjectFactsFlow")[run_id]
    assert {"project:demo", "project_branch:test.exp-1"} <= set(run.system_tags)
    local = runner.run(file, top=("--branch", "exp-1"))
    there = Flow("ProjectFactsFlow")[str(local.run_id)]
    assert run.data.facts["namespace"] == "project_branch:test.exp-1"
    assert there.data.facts["namespace"] == "user:tester"
    assert {**run.data.facts, "namespace": None} == {**there.data.facts, "namespace": None}
    assert run.data.facts["branch_name"] == "test.exp-1"

    def without_namespace(facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**f, "namespace": None} for f in facts]

    here_work = run["join"].task.data.work_facts
    assert {f["namespace"] for f in here_work} == {"project_branch:test.exp-1"}
    assert without_namespace(here_work) == without_namespace(there["join"].task.data.work_facts)
