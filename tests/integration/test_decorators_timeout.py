"""@timeout: stops a step sleeping in Python, sleeping inside libc (ctypes), or stuck in
one long NumPy call that never sees a signal (the runtime kills that process); the
message names the step and the limit; a timeout is a failure for @retry and @catch."""

from __future__ import annotations

import pytest

from decorator_support import flow, statuses, summary_of
from grange import Flow, Task
from support import Runner

TIMED_OUT = "TimeoutException: step 'slow' timed out after 1 seconds"


@pytest.mark.parametrize(
    ("how", "fork"),
    [("sleep", True), ("libc", True), ("numpy", True), ("numpy", False)],
    ids=["sleep", "libc-sleep", "numpy", "numpy-no-fork"],
)
def test_timeout_stops_the_step(runner: Runner, how: str, fork: bool) -> None:
    result = runner.run(flow("timeouts"), "--how", how, fork=fork, ok=False)
    assert result.returncode == 1
    run = Flow("TimeoutFlow")[result.run_id]
    task = run["slow"].task
    summary = summary_of(result.stdout)
    assert f"Step 'slow' failed in task {task.pathspec} (attempt 0): {TIMED_OUT}" in summary
    assert (
        task.exception is not None
        and task.exception.type == "grange.decorators.timeout.TimeoutException"
    )
    assert "timed out after 1 seconds" in task.exception.message
    assert TIMED_OUT in task.stderr
    assert f"working ({how})" in task.stdout
    assert "finished_work" not in task.data
    assert statuses(runner, task.pathspec) == ["failed"]
    assert "end" not in run
    if how == "numpy":  # deaf to the alarm: the runtime killed it, and says so
        assert "the runtime killed it" in task.stderr
        assert f"[{result.run_id}/slow/{task.id}] {TIMED_OUT}" in result.stdout
    else:  # the alarm interrupted the user's code, and the traceback says where
        assert "timeouts.py" in task.stderr and "in slow" in task.stderr


def test_a_timeout_is_a_failure_that_retry_retries(runner: Runner) -> None:
    # Attempt 0 is stuck in C and killed; attempt 1 is quick.
    result = runner.run(flow("timeout_retry"), "--how", "numpy")
    run = Flow("TimeoutRetryFlow")[result.run_id]
    assert run.successful
    task = run["slow"].task
    assert statuses(runner, task.pathspec) == ["failed", "ok"]
    first = Task(task.pathspec, attempt=0)
    assert (
        first.exception is not None
        and first.exception.type == "grange.decorators.timeout.TimeoutException"
    )
    assert task.data.attempt == 1


@pytest.mark.parametrize(
    ("how", "expected"),
    [("sleep", ["caught"]), ("numpy", ["failed", "caught"])],
    ids=["in-python", "stuck-in-c"],
)
def test_a_timeout_is_a_failure_that_catch_catches(
    runner: Runner, how: str, expected: list[str]
) -> None:
    result = runner.run(flow("timeout_catch"), "--how", how)
    run = Flow("TimeoutCatchFlow")[result.run_id]
    assert run.successful
    task = run["slow"].task
    # In Python the alarm raises in the step and @catch handles it there, keeping what
    # the step set; a process deaf to the alarm is killed and a fallback attempt follows.
    assert statuses(runner, task.pathspec) == expected
    end = run["end"].task.data
    assert end.caught_type == "grange.decorators.timeout.TimeoutException"
    assert "step 'slow' timed out after 1 seconds" in end.caught
    if how == "sleep":
        assert task.data.before == "set before the timeout"


def test_slow_imports_of_a_fresh_interpreter_do_not_count_against_the_step(
    runner: Runner,
) -> None:
    result = runner.run(
        flow("slow_import"), env=runner.env(IMPORT_SECONDS="3"), fork=False, ok=None
    )
    assert result.returncode == 0, result.explain()
