"""``current`` inside the steps of a real run, compared with what the client reads."""

from __future__ import annotations

import subprocess
import sys

from grange import Flow
from support import USER, Runner


def test_current_in_every_kind_of_step(runner: Runner, fork: bool) -> None:
    run_id = runner.run("current_facts", "--tag", "t1", "--tag", "t2", fork=fork).run_id
    run = Flow("CurrentRunFlow")[run_id]
    tasks = [run["start"].task, *run["work"], run["join"].task, run["end"].task]
    assert len(tasks) == 5
    for task in tasks:
        seen = task.data.facts
        assert seen == {
            "flow_name": "CurrentRunFlow",
            "run_id": run_id,
            "step_name": task.parent.id,
            "task_id": task.id,
            "retry_count": 0,
            "origin_run_id": None,
            "pathspec": task.pathspec,
            "username": USER,
            "namespace": f"user:{USER}",
            "tags": frozenset({"t1", "t2"}),
            "parameter_names": ["alpha", "beta"],
            "is_running_flow": True,
        }
    assert run["start"].task.data.client_namespace == f"user:{USER}"
    assert sorted(f["task_id"] for f in run["join"].task.data.work_facts) == sorted(
        t.id for t in run["work"]
    )


def test_current_after_resume_names_the_origin(runner: Runner) -> None:
    first = runner.run("current_facts").run_id
    run_id = runner.resume("current_facts", "join", "--origin-run-id", first).run_id
    run = Flow("CurrentRunFlow")[run_id]
    assert run["join"].task.data.facts["origin_run_id"] == first
    assert run["join"].task.data.facts["run_id"] == run_id
    assert run["end"].task.data.facts["origin_run_id"] == first
    # Reused tasks keep what they saw when they ran.
    assert run["start"].task.data.facts["origin_run_id"] is None
    assert run["start"].task.data.facts["run_id"] == first


def test_current_outside_a_flow() -> None:
    code = "from grange import current; print(current.is_running_flow, current.run_id)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out == "False None\n"


def test_a_running_task_sees_itself_through_the_client(runner: Runner, fork: bool) -> None:
    run_id = runner.run("self_lookup", fork=fork).run_id
    run = Flow("SelfLookupFlow")[run_id]
    assert {"seen-start", "seen-work", "seen-join"} <= run.user_tags
    for task in [run["start"].task, *run["work"], run["join"].task]:
        seen = task.data.seen
        assert seen["pathspec"] == task.pathspec
        assert seen["finished"] is False and seen["attempt"] == 0
        assert seen["parents"] == sorted(task.parent_task_pathspecs)
        assert seen["in_step"] and seen["tagged"]
