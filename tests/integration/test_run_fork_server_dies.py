"""When the fork server dies mid-run, a new one is started and the run goes on.

The tasks it was running die with it and are retried (or fail) like any task
whose process died; the tasks not started yet, and every later one, are forked
from the new server (fresh interpreters only if it keeps dying). The run never
hangs and never ends in an internal error.
"""

from __future__ import annotations

from grange import Flow
from support import Runner


def test_a_dead_fork_server_is_replaced_and_retries_finish_the_run(runner: Runner) -> None:
    result = runner.run("fork_server_dies", "--with", "retry:times=1,minutes_between_retries=0")
    assert "fork server that starts tasks stopped unexpectedly (killed by SIGKILL)" in (
        result.output
    )
    assert "A new one was started." in result.output
    assert "fresh interpreters" not in result.output
    assert (runner.cwd / "fork-server-killed").exists()
    run = Flow("ForkServerDiesFlow")[result.run_id]
    assert run.successful
    assert run.data.values == [0, 10, 20, 30]
    assert run.data.all_forked  # by the new fork server, not in fresh interpreters
    first = next(t for t in run["work"] if t.data.value == 0)
    assert first.current_attempt == 1  # attempt 0 died with the fork server


def test_without_retries_the_run_fails_cleanly_and_resumes(runner: Runner) -> None:
    failed = runner.run("fork_server_dies", ok=False)
    assert "Internal error" not in failed.output
    assert "killed by SIGKILL before it recorded a result" in failed.output
    assert "resume" in failed.output
    resumed = runner.resume("fork_server_dies", "--origin-run-id", str(failed.run_id))
    run = Flow("ForkServerDiesFlow")[resumed.run_id]
    assert run.successful and run.data.values == [0, 10, 20, 30]


def test_a_task_lost_after_it_committed_counts_as_succeeded(runner: Runner) -> None:
    result = runner.run("lost_after_commit")
    assert "stopped unexpectedly" in result.output
    run = Flow("LostAfterCommitFlow")[result.run_id]
    assert run.successful and run.data.values == [0, 1]
    second = next(t for t in run["work"] if t.data.value == 1)
    assert second.successful and second.current_attempt == 0  # not retried, not failed
