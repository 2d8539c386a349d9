"""@parallel gangs on Argo, end to end in the local executor: N pods at once that
find node 0 through the datastore and talk over TCP at its address, retried whole
by the gang's DAG template, with the same artifacts as a local run."""

from __future__ import annotations

import socket

import pytest
from tests.integration.test_argo_e2e import deploy, trigger

from grange import Flow
from support import RUN_FLOWS, Runner

pytestmark = pytest.mark.slow

RETRY = "retry:times=1,minutes_between_retries=0"


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def test_a_gang_all_reduces_as_locally(runner: Runner) -> None:
    file = RUN_FLOWS / "gang.py"
    env = {"GANG_PORT": free_port()}
    result, run_id = trigger(runner, deploy(str(runner.root), file), env=env)
    assert result.phase == "Succeeded", result.explain()
    gang = result.pods("train")
    assert len(gang) == 3 and all(n.retries == 0 for n in gang)
    run = Flow("GangFlow")[run_id]
    assert run.successful
    join = run["join"].task.data
    assert join.nodes == [0, 1, 2] and join.totals == [33, 33, 33]
    assert join.controls == ["t0"] and join.attempts == [0, 0, 0]
    assert run["train"].control_task is not None and run["train"].control_task.id == "t0"
    for task in run["train"].tasks():
        facts = task.data.facts
        node = facts["node_index"]
        assert task.id == f"t{node}" == facts["task_id"]
        assert (facts["main_ip"], facts["num_nodes"], facts["control_task_id"]) == (
            "127.0.0.1",
            3,
            "t0",
        )
        assert facts["input"] == facts["index"] == node
        for prefix in ("MF_PARALLEL_", "GRANGE_PARALLEL_"):
            assert facts["env"][prefix + "NODE_INDEX"] == str(node)
            assert facts["env"][prefix + "MAIN_IP"] == "127.0.0.1"
            assert facts["env"][prefix + "CONTROL_TASK_ID"] == "t0"
    local = Flow("GangFlow")[str(runner.run(file, env=runner.env(**env)).run_id)]
    there = local["join"].task.data
    assert (there.nodes, there.totals, there.attempts) == (join.nodes, join.totals, join.attempts)


def test_a_failed_node_runs_the_whole_gang_again(runner: Runner) -> None:
    # Node 2 fails on attempt 0 once the other two succeeded: the gang's DAG runs all
    # three again, as attempt 1 of each (the same number in every pod).
    file = RUN_FLOWS / "gang.py"
    env = {
        "GANG_PORT": free_port(),
        "GANG_FAIL_NODE": "2",
        "GANG_FAIL_TIMES": "1",
        "GANG_SOLO": "1",
    }
    result, run_id = trigger(runner, deploy(str(runner.root), file, decospecs=(RETRY,)), env=env)
    assert result.phase == "Succeeded", result.explain()
    gang = next(n for n in result.nodes if n.template == "start-gang" and n.type == "DAG")
    assert [c.phase for c in gang.children] == ["Failed", "Succeeded"]
    assert len(result.pods("train")) == 6  # 3 pods, twice
    run = Flow("GangFlow")[run_id]
    join = run["join"].task.data
    assert join.attempts == [1, 1, 1] and join.totals == [10, 11, 12]  # GANG_SOLO: no all-reduce
    local = Flow("GangFlow")[str(runner.run(file, "--with", RETRY, env=runner.env(**env)).run_id)]
    assert local["join"].task.data.attempts == join.attempts


def test_the_core_gang_flow_as_locally(runner: Runner) -> None:
    # Metaflow's small-parallel graph: a retried split before a gang of 4, and a gang
    # of 3 whose every attempt fails, caught in the end (all nodes run the fallback).
    file = RUN_FLOWS / "gang_core.py"
    result, run_id = trigger(runner, deploy(str(runner.root), file))
    assert result.phase == "Succeeded", result.explain()
    run = Flow("GangCoreFlow")[run_id]
    assert run["caught"].task.data.got == [0, 1, 2, 3]
    local = Flow("GangCoreFlow")[str(runner.run(file).run_id)]
    assert run["join"].task.data.caught_in == local["join"].task.data.caught_in
    assert run["join"].task.data.caught_in == [(2, "builtins.ValueError")] * 3


def test_a_failed_node_stops_the_others_of_its_gang(runner: Runner) -> None:
    # Node 1 fails before the all-reduce: node 0 waits in accept() and node 2 for its
    # answer. Argo would leave them waiting; they see node 1's failure and stop.
    file = RUN_FLOWS / "gang.py"
    env = {"GANG_PORT": free_port(), "GANG_FAIL_NODE": "1"}
    result, run_id = trigger(runner, deploy(str(runner.root), file), env=env)
    assert result.phase == "Failed"
    assert result.exit is not None and result.exit.phase == "Succeeded"
    run = Flow("GangFlow")[run_id]
    assert not run.successful
    tasks = {t.id: t for t in run["train"].tasks()}
    assert sorted(tasks) == ["t0", "t1", "t2"] and not any(t.successful for t in tasks.values())
    assert "node 1 fails on purpose" in tasks["t1"].exception.message
    exc = tasks["t0"].exception  # in accept(), waiting for node 1 forever
    assert exc.type == "GangMemberFailed"
    assert "task t1 (node 1) of the same @parallel gang failed (RuntimeError)" in exc.message
    # node 2 is stopped too, or fails first when node 0's pod ends (connection reset)
    assert tasks["t2"].exception.type in ("GangMemberFailed", "builtins.ConnectionResetError")


def test_a_gang_failed_on_argo_resumes_locally_whole(runner: Runner) -> None:
    file = RUN_FLOWS / "gang.py"
    env = {"GANG_PORT": free_port(), "GANG_FAIL_NODE": "1", "GANG_SOLO": "1"}
    result, run_id = trigger(runner, deploy(str(runner.root), file), env=env)
    assert result.phase == "Failed"
    # node 1 read the run through the client while it ran (GANG_SOLO): the index has
    # it as running on Argo; resume finds in the datastore that it ended
    resumed = runner.resume(file, "--origin-run-id", run_id, env=runner.env(GANG_PORT=free_port()))
    run = Flow("GangFlow")[str(resumed.run_id)]
    assert run.successful
    join = run["join"].task.data
    assert join.nodes == [0, 1, 2] and join.totals == [33, 33, 33]  # all three ran again
    assert all(t.origin_pathspec is None for t in run["train"].tasks())
    assert run["start"].task.origin_pathspec == f"GangFlow/{run_id}/start/t0"
