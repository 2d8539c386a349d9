"""Flows run as Argo workflows in the local executor, through the step command's Argo
mode (tests/argo_executor.reference builds the manifests, per the pod protocol), and
read back through the client: the same artifacts as ``python flow.py run``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.argo_schema import validate

from argo_executor import WorkflowResult, run_workflow
from argo_executor.reference import reference_template
from grange import Flow
from support import RUN_FLOWS, Runner, load_flow


def argo_run(
    runner: Runner,
    flow: str | Path,
    *,
    params: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    **options: Any,
) -> tuple[WorkflowResult, str]:
    file = flow if isinstance(flow, Path) else RUN_FLOWS / f"{flow}.py"
    flow_cls = load_flow(file)
    defaults = {p.name: json.dumps(p.default) for p in _parameters(flow_cls)}
    template = reference_template(
        flow_cls, str(file), name="t", top_level=("--quiet",), parameters=defaults, **options
    )
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "t-"},
        "spec": {
            "workflowTemplateRef": {"name": "t"},
            "arguments": {
                "parameters": [
                    {"name": k, "value": json.dumps(v)} for k, v in (params or {}).items()
                ]
            },
        },
    }
    assert validate(template) == [] and validate(workflow) == []
    result = run_workflow(
        template, workflow, env=runner.env(**(env or {})), cwd=runner.cwd, time_scale=0.001
    )
    return result, f"argo-{result.name}"


def _parameters(flow_cls: type) -> list[Any]:
    from grange.parameters import flow_parameters

    return flow_parameters(flow_cls)


def artifacts(flow: str, run_id: str) -> dict[str, list[str]]:
    """Every step's tasks' artifacts (name -> repr), as a sorted list per step."""
    run = Flow(flow)[run_id]
    return {
        step.id: sorted(
            json.dumps({a.id: repr(a.data) for a in task}, sort_keys=True) for task in step.tasks()
        )
        for step in run
    }


SHAPES = [
    ("linear", {}),
    ("branches", {"weight": 5}),
    ("nested_foreach", {}),
    ("switch", {"coin": "tails"}),
    ("params", {"alpha": 0.25, "names": "x,y,z", "config": '{"k": 2}', "learning-rate": 0.5}),
    ("foreach_kinds", {"kind": "dict", "size": 4}),
    ("argo_shapes", {}),
]


@pytest.mark.parametrize(("flow", "params"), SHAPES, ids=[s[0] for s in SHAPES])
def test_same_artifacts_as_a_local_run(runner: Runner, flow: str, params: dict[str, Any]) -> None:
    args = [x for k, v in params.items() for x in (f"--{k}", str(v))]
    local = runner.run(flow, *args)
    result, run_id = argo_run(runner, flow, params=params)
    assert result.phase == "Succeeded", result.explain()
    name = load_flow(RUN_FLOWS / f"{flow}.py").__name__
    assert artifacts(name, run_id) == artifacts(name, local.run_id)
    run = Flow(name)[run_id]
    assert run.successful and run.finished
    assert "runtime:argo" in run.system_tags


def test_batches_of_a_wider_foreach(runner: Runner) -> None:
    result, run_id = argo_run(runner, "foreach_kinds", params={"size": 7}, foreach_batch_size=3)
    assert result.phase == "Succeeded", result.explain()
    batches = [n for n in result.nodes if n.template == "start-batch" and n.type == "DAG"]
    assert len(batches) == 3  # 0-2, 3-5, 6
    run = Flow("ForeachKindsFlow")[run_id]
    assert sorted(t["got"].data for t in run["work"].tasks()) == [f"i{n}" for n in range(7)]
    assert sorted(t.id for t in run["work"].tasks()) == [f"t{n}" for n in range(7)]


DECORATORS = RUN_FLOWS.parent / "decorators"


def test_a_retry_that_succeeds(runner: Runner) -> None:
    result, run_id = argo_run(runner, DECORATORS / "flaky.py", env={"FLAKY_FAILS": "2"})
    assert result.phase == "Succeeded", result.explain()
    assert result.pods("flaky")[0].retries == 2  # Argo retried the pod: {{retries}} = 2
    run = Flow("FlakyFlow")[run_id]
    assert run.data.final_attempt == 2
    assert run["flaky"].task.current_attempt == 2 and run["flaky"].task.successful


def test_catch_in_the_step_and_after_the_pod_died(runner: Runner) -> None:
    result, run_id = argo_run(runner, DECORATORS / "retry_catch.py")
    assert result.phase == "Succeeded", result.explain()
    run = Flow("RetryCatchFlow")[run_id]
    assert run.data.error_type == "builtins.KeyError"
    assert "missing on attempt 2" in run.data.error_text
    # The pod is killed: Argo retries it, past --max-user-retries: the @catch fallback.
    result, run_id = argo_run(runner, DECORATORS / "catch_crash.py")
    assert result.phase == "Succeeded", result.explain()
    assert result.pods("crash")[0].retries == 1
    run = Flow("CatchCrashFlow")[run_id]
    assert run.data.crashed_type == "grange.decorators.catch.FailureHandledByCatch"


def test_a_failure_then_resume_locally(runner: Runner) -> None:
    result, run_id = argo_run(runner, "fail", env={"FAIL_ITEM": "2"})
    assert result.phase == "Failed"
    failed = Flow("FailRunFlow")[run_id]
    assert not failed.successful and failed.finished  # argo-finish recorded the failure
    resumed = runner.resume("fail", "--origin-run-id", run_id)
    run = Flow("FailRunFlow")[resumed.run_id]
    assert run.successful and run.data.outs == [10, 20, 30]
    assert run.origin_pathspec == f"FailRunFlow/{run_id}"
    reused = sorted(t.data.out for t in run["work"] if t.origin_pathspec)
    assert reused == [10, 30]


def test_bad_workflow_argument_is_named(runner: Runner) -> None:
    result, _ = argo_run(runner, "params", params={"count": "many"})
    assert result.phase == "Failed"
    stderr = result.pods("start")[0].attempts[0].stderr.read_text()
    assert "'count'" in stderr and "argo-workflows trigger --count" in stderr
    assert "Traceback" not in stderr


def test_start_claims_the_run_once(runner: Runner) -> None:
    """A retried start of the same workflow goes on; another workflow's start with the
    same run id (another deployment sharing the datastore) is refused."""
    file = str(RUN_FLOWS / "linear.py")
    step = ["step", "start", "--run-id", "argo-same", "--argo-index", ""]
    runner(Path(file), step[0], *step[1:], "--argo-workflow-uid", "u1")
    runner(Path(file), step[0], *step[1:], "--argo-workflow-uid", "u1", "--retry-count", "1")
    other = runner(Path(file), step[0], *step[1:], "--argo-workflow-uid", "u2", ok=False)
    assert "exists already" in other.stderr and "u2" in other.stderr
    assert "Traceback" not in other.stderr
    from grange.datastore import LocalBlobStore
    from grange.datastore.runs import read_claim

    claim = read_claim(LocalBlobStore(runner.root), "LinearRunFlow", "argo-same")
    assert claim is not None and "start" in claim.extra["graph"]["steps"]  # Run.graph


def test_a_run_on_argo_reads_running_until_its_end_is_recorded(runner: Runner) -> None:
    """No local process, no heartbeat: the run reads running however long its tasks
    take (not crashed after the heartbeat window), readers index its tasks as they
    come, and it reads failed once the exit handler recorded the end."""
    import time

    from grange.datastore import DatastoreLocation
    from grange.metastore.sqlite_store import open_sqlite
    from grange.reindex import index_missing_runs
    from grange.reindex.sync import index_if_ended

    file = RUN_FLOWS / "linear.py"
    args = ["--run-id", "argo-slow", "--argo-index", "", "--argo-workflow-uid", "u"]
    runner(file, "step", "start", *args)
    blobs = DatastoreLocation.of(runner.root).open()
    later = open_sqlite(runner.cwd / "index.sqlite", clock=lambda: time.time() + 3600)
    assert later is not None
    index_missing_runs(blobs, later, "LinearRunFlow")
    assert later.get_run("LinearRunFlow", "argo-slow").status == "running"
    assert {t.step for t in later.list_tasks("LinearRunFlow", "argo-slow")} == {
        "_parameters",
        "start",
    }
    runner(file, "step", "middle", *args)
    index_if_ended(blobs, later, "LinearRunFlow", "argo-slow", cluster=True)
    assert "middle" in {t.step for t in later.list_tasks("LinearRunFlow", "argo-slow")}
    runner(file, "argo-finish", "--run-id", "argo-slow", "--status", "Failed")
    index_if_ended(blobs, later, "LinearRunFlow", "argo-slow", cluster=True)
    assert later.get_run("LinearRunFlow", "argo-slow").status == "failed"
    # The client does the same, once per process.
    assert Flow("LinearRunFlow")["argo-slow"].finished


@pytest.mark.parametrize("flow", ["nested_foreach", "branches"])
def test_on_a_loopback_s3_datastore(
    runner: Runner, s3_server: Any, s3_bucket: str, flow: str
) -> None:
    """Pods share an S3 datastore: the same artifacts as a local run into the same store."""
    from grange import metadata, namespace

    root = f"s3://{s3_bucket}/runs"
    env = {"GRANGE_DATASTORE_ROOT": root, **s3_server.env()}
    local = runner.run(flow, env=runner.env(**env))
    result, run_id = argo_run(runner, flow, env=env)
    assert result.phase == "Succeeded", result.explain()
    metadata(f"local@{root}")
    namespace(None)
    name = load_flow(RUN_FLOWS / f"{flow}.py").__name__
    assert artifacts(name, run_id) == artifacts(name, str(local.run_id))
    assert Flow(name)[run_id].successful


def test_argo_finish_records_only_a_missing_end(runner: Runner) -> None:
    from grange.datastore import DatastoreLocation
    from grange.datastore.runs import read_final

    file = RUN_FLOWS / "linear.py"
    blobs = DatastoreLocation.of(runner.root).open()
    # A workflow whose start never ran (an image that cannot be pulled): no run to end.
    runner(file, "argo-finish", "--run-id", "argo-never", "--status", "Failed")
    assert not blobs.children("LinearRunFlow/argo-never")
    # A run whose end succeeded keeps its end, whatever Argo says after.
    result, run_id = argo_run(runner, "linear")
    assert result.phase == "Succeeded" and result.exit is not None
    before = read_final(blobs, "LinearRunFlow", run_id)
    runner(file, "argo-finish", "--run-id", run_id, "--status", "Failed")
    assert read_final(blobs, "LinearRunFlow", run_id) == before
    assert before is not None and before[0] == "succeeded"
    # Argo says Succeeded but end never recorded success: failed, not a false success.
    args = ["--run-id", "argo-half", "--argo-index", "", "--argo-workflow-uid", "u"]
    runner(file, "step", "start", *args)
    runner(file, "argo-finish", "--run-id", "argo-half", "--status", "Succeeded")
    final = read_final(blobs, "LinearRunFlow", "argo-half")
    assert final is not None and final[0] == "failed"


def test_a_task_whose_parents_did_not_run_is_named(runner: Runner) -> None:
    file = RUN_FLOWS / "nested_foreach.py"
    common = ["--run-id", "argo-hand", "--argo-workflow-uid", "u"]
    joined = runner(file, "step", "join_outer", *common, "--argo-index", "", ok=False)
    assert "join_outer" in joined.stderr and "have not all succeeded" in joined.stderr
    assert "Traceback" not in joined.stderr
    runner(file, "step", "start", *common, "--argo-index", "")
    beyond = runner(file, "step", "mid", *common, "--argo-index", "2", ok=False)
    assert "item 2 of a foreach of 2 item(s)" in beyond.stderr


def test_a_node_run_again_from_attempt_0_takes_the_next_attempt(runner: Runner) -> None:
    """`argo retry` (or the UI's Retry) runs a node again with {{retries}} from 0:
    records are written once, so it becomes the next attempt, not a failure."""
    from grange.datastore import DatastoreLocation
    from grange.datastore.records import list_attempts

    file = RUN_FLOWS / "linear.py"
    step = ["start", "--run-id", "argo-again", "--argo-index", "", "--argo-workflow-uid", "u1"]
    runner(file, "step", *step)
    again = runner(file, "step", *step, "--retry-count", "0")
    assert "Traceback" not in again.stderr
    blobs = DatastoreLocation.of(str(runner.root)).open()
    assert list_attempts(blobs, "LinearRunFlow", "argo-again", "start", "t0") == [0, 1]
