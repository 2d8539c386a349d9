"""@retry: a flaky step succeeds on a later attempt; ``current.retry_count`` counts the
attempts; every attempt's status, exception and logs are kept and readable through the
client and ``logs --attempt``; ``minutes_between_retries`` is waited between attempts."""

from __future__ import annotations

from decorator_support import attempts, flow, statuses
from grange import Flow, Task
from support import Runner


def test_a_flaky_step_is_retried_until_it_succeeds_and_every_attempt_is_kept(
    runner: Runner, fork: bool
) -> None:
    result = runner.run(flow("flaky"), env=runner.env(FLAKY_FAILS="2"), fork=fork)
    run = Flow("FlakyFlow")[result.run_id]
    assert run.successful
    task = run["flaky"].task
    assert task.current_attempt == 2
    assert task.data.attempt == 2  # current.retry_count in the attempt that succeeded
    assert run["end"].task.data.final_attempt == 2
    assert statuses(runner, task.pathspec) == ["failed", "failed", "ok"]

    for number in (0, 1):
        failed = Task(task.pathspec, attempt=number)
        assert not failed.successful and failed.finished
        assert f"attempt {number} started at" in failed.stdout
        assert f"attempt {number} failing at" in failed.stdout
        assert failed.exception is not None
        assert failed.exception.type == "builtins.ConnectionError"
        assert failed.exception.message == f"transient failure on attempt {number}"
        assert f"ConnectionError: transient failure on attempt {number}" in failed.stderr
    last = Task(task.pathspec, attempt=2)
    assert last.successful and last.exception is None
    assert "attempt 2 succeeded" in last.stdout and "attempt 1" not in last.stdout
    assert [m.value for m in task.metadata if m.name == "attempt"] == ["0", "1", "2"]

    # The runtime said what it did, with each attempt's lines under the task's prefix.
    prefix = f"[{result.run_id}/flaky/{task.id}]"
    assert f"{prefix} task failed, will retry" in result.stdout
    assert f"{prefix} task starting (retry 1)" in result.stdout
    assert f"{prefix} task starting (retry 2)" in result.stdout
    assert f"{prefix} attempt 2 succeeded" in result.stdout

    # The logs of an earlier attempt, from the command line.
    logs = runner(flow("flaky"), "logs", f"{result.run_id}/flaky", "--attempt", "1")
    assert "attempt 1 started at" in logs.stdout and "attempt 2" not in logs.stdout


def test_minutes_between_retries_is_waited_between_attempts(runner: Runner) -> None:
    result = runner.run(flow("flaky"), env=runner.env(FLAKY_FAILS="1"))
    task = Flow("FlakyFlow")[result.run_id]["flaky"].task
    first, second = attempts(runner, task.pathspec)
    assert first.finished_at is not None and second.started_at is not None
    # Times the attempts recorded themselves. The second starts after the first ended
    # plus the delay (0.01 minutes): a lower bound, which no slowness can break.
    assert second.started_at >= first.finished_at + 0.6
