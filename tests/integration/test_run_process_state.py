"""What a task's process starts with, under both launchers.

Forked tasks must look like fresh processes where it matters: their own pid,
``random`` and NumPy reseeded, module globals not shared between tasks, and
threads, thread pools, process pools and logging that work (the fork server forks without
running Python's after-fork hooks, see docs/running.md).
"""

from __future__ import annotations

from grange import Flow
from support import Runner


def test_each_task_starts_from_a_clean_process(runner: Runner, fork: bool) -> None:
    result = runner.run("process_state", fork=fork)
    run = Flow("ProcessStateFlow")[result.run_id]
    assert run.successful
    assert run["start"].task.data.pool_squares == [0, 1, 4, 9]
    tasks = run.data.tasks
    assert [t[0] for t in tasks] == [0, 1, 2, 3]
    for item, seen, _pid, _draws, threads, thread_ran, squares in tasks:
        assert seen == [item]  # no other task's append is visible
        assert threads == 1  # only the task's own main thread
        assert thread_ran
        assert squares == [0, 1, 4, 9, 16]
    assert len({t[2] for t in tasks}) == 4  # four processes
    python_draws = [t[3][0] for t in tasks]
    numpy_draws = [t[3][1] for t in tasks]
    assert len(set(python_draws)) == 4 and len(set(numpy_draws)) == 4
    for item in range(4):
        assert f"logged from item {item}" in result.output


def test_a_flows_own_after_fork_hook_runs_in_every_task(runner: Runner) -> None:
    """With a hook that is not the standard library's, the fork server uses os.fork."""
    result = runner.run("fork_hook")
    run = Flow("ForkHookFlow")[result.run_id]
    assert run.data.pid in run.data.hook_ran_in
