"""@parallel gangs on the local runtime: started together (even past --max-workers),
talking over TCP at current.parallel.main_ip, joined whole, failing, retried and
resumed as one unit, with both launchers."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from grange import Flow
from support import Runner

pytestmark = pytest.mark.slow


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def test_a_gang_all_reduces_and_its_join_sees_every_node(runner: Runner, fork: bool) -> None:
    # --max-workers 1: the gang of 3 still starts together (else node 0 would wait forever)
    result = runner.run(
        "gang", "--max-workers", "1", env=runner.env(GANG_PORT=free_port()), fork=fork
    )
    assert "gang of 3 tasks of @parallel step 'train' starts all at once, past --max-workers 1" in (
        result.output
    )
    run = Flow("GangFlow")[result.run_id]
    join = run["join"].task.data
    assert join.nodes == [0, 1, 2]
    assert join.totals == [33, 33, 33]  # 10 + 11 + 12, summed over the sockets
    assert join.attempts == [0, 0, 0]
    tasks = sorted(run["train"].tasks(), key=lambda t: t.data.facts["node_index"])
    assert len(tasks) == 3 and all(t.successful for t in tasks)
    control = tasks[0].id
    assert join.controls == [control]
    assert [t.id for t in run["train"].control_tasks()] == [control]  # as Metaflow's client
    assert run["train"].control_task is not None and run["train"].control_task.id == control
    assert list(run["join"].control_tasks()) == [] and run["start"].control_task is None
    for node, task in enumerate(tasks):
        facts = task.data.facts
        assert facts["task_id"] == task.id
        assert (facts["main_ip"], facts["num_nodes"], facts["node_index"]) == ("127.0.0.1", 3, node)
        assert facts["control_task_id"] == control and facts["is_parallel"] is True
        assert facts["input"] == facts["index"] == node  # as in Metaflow
        for prefix in ("MF_PARALLEL_", "GRANGE_PARALLEL_"):
            assert facts["env"][prefix + "NODE_INDEX"] == str(node)
            assert facts["env"][prefix + "NUM_NODES"] == "3"
            assert facts["env"][prefix + "MAIN_IP"] == "127.0.0.1"
            assert facts["env"][prefix + "CONTROL_TASK_ID"] == control


def test_one_failed_node_stops_the_gang_and_fails_the_run(runner: Runner, fork: bool) -> None:
    # Node 1 fails before the all-reduce: node 0 waits in accept() and node 2 for its
    # answer, forever, unless the runtime stops them.
    env = runner.env(GANG_PORT=free_port(), GANG_FAIL_NODE="1")
    result = runner.run("gang", env=env, fork=fork, ok=False)
    assert "node 1 fails on purpose" in result.output
    assert "stopped by the runtime" in result.output
    assert "of the same @parallel gang failed (RuntimeError)" in result.output
    assert "Step 'train' failed in task" in result.output
    run = Flow("GangFlow")[result.run_id]
    assert not run.successful
    assert sorted(t.successful for t in run["train"].tasks()) == [False, False, False]


def test_retry_runs_the_whole_gang_again(runner: Runner) -> None:
    env = runner.env(GANG_PORT=free_port(), GANG_FAIL_NODE="2", GANG_FAIL_TIMES="1")
    result = runner.run("gang", "--with", "retry:times=1,minutes_between_retries=0", env=env)
    run = Flow("GangFlow")[result.run_id]
    assert run["join"].task.data.attempts == [1, 1, 1]  # every node ran again, together
    assert run["join"].task.data.totals == [33, 33, 33]


def test_resume_runs_a_failed_gang_again_whole(runner: Runner, fork: bool) -> None:
    # Nodes 0 and 2 succeed on their own, node 1 fails: the gang did not succeed.
    env = runner.env(GANG_PORT=free_port(), GANG_FAIL_NODE="1", GANG_SOLO="1")
    failed = runner.run("gang", env=env, fork=fork, ok=False).run_id
    origin = Flow("GangFlow")[failed]
    assert sorted(t.successful for t in origin["train"].tasks()) == [False, True, True]
    result = runner.resume("gang", env=runner.env(GANG_PORT=free_port()), fork=fork)
    run = Flow("GangFlow")[result.run_id]
    assert run["start"].task.origin_pathspec is not None
    assert [t.origin_pathspec for t in run["train"].tasks()] == [None, None, None]
    assert run["join"].task.data.totals == [33, 33, 33]  # all-reduced again, all three
    # and a gang that succeeded is reused whole
    again = runner.resume("gang", "join", "--origin-run-id", result.run_id, fork=fork)
    reused = Flow("GangFlow")[again.run_id]
    assert all(t.origin_pathspec for t in reused["train"].tasks())
    assert reused["join"].task.data.totals == [33, 33, 33]


def test_the_documented_example_runs_as_described(runner: Runner) -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "decorators.md").read_text()
    example = next(b for b in re.findall(r"```python\n(.*?)```", page, re.S) if "@parallel" in b)
    file = runner.cwd / "flow.py"
    file.write_text(example.replace("PORT = 29517", f"PORT = {free_port()}"))
    result = runner.run(file, "--max-workers", "2")
    run = Flow("AllReduceFlow")[result.run_id]
    assert "all-reduced: [33, 33, 33]" in run["end"].task.stdout


def test_a_gang_larger_than_max_num_splits_is_refused_at_its_line(runner: Runner) -> None:
    result = runner.run("gang", "--max-num-splits", "2", ok=False)
    assert "gang.py:54, step 'start'" in result.output
    assert "num_parallel=3) asks for a gang of 3 tasks, more than the limit of 2" in result.output
    assert "--max-num-splits" in result.output


def test_metaflow_core_checks_on_the_small_parallel_graph(runner: Runner) -> None:
    from decorator_support import statuses

    result = runner.run("gang_core")
    run = Flow("GangCoreFlow")[result.run_id]
    split = run["parallel_split"].task
    assert split.data.this_is_split and split.current_attempt == 2
    inner = run["parallel_inner"]
    assert len(list(inner.tasks())) == 4 and len(list(inner.control_tasks())) == 1
    assert run["caught"].task.data.got == [0, 1, 2, 3]
    # @retry + @catch on a gang: every node fails, the gang is retried whole twice, and
    # each node's last attempt is caught
    for task in run["soft_death"].tasks():
        assert statuses(runner, task.pathspec) == ["failed", "failed", "caught"]
    assert run["join"].task.data.caught_in == [(2, "builtins.ValueError")] * 3
