"""@catch: the variable holds the exception on failure and None on success; the flow
goes on; a join inspects ``input.<var>``; the caught task's latest attempt is recorded
as 'caught', earlier failed attempts kept; with @retry, @catch acts after the last
retry; a process that dies is caught by a fallback attempt that runs no user code."""

from __future__ import annotations

from pathlib import Path

import grange
from decorator_support import flow, statuses
from grange import Flow, Task
from support import Runner

# The installed package's folder: "grange/" alone is also in the path of a checkout
# named grange (a plain clone), where the flow files live.
GRANGE_PACKAGE = str(Path(grange.__file__).resolve().parent) + "/"


def test_catch_keeps_a_foreach_going_and_the_join_sees_what_failed(runner: Runner) -> None:
    result = runner.run(flow("catch_foreach"))
    run = Flow("CatchForeachFlow")[result.run_id]
    assert run.successful
    join = run["join"].task.data
    assert join.failed == [0]
    assert join.results == {0: False, 1: True, 2: True}  # None where the step succeeded
    assert join.messages == ["ZeroDivisionError: division by zero"]
    assert join.xs == [2.5, 5.0]
    assert "compute failed for parameter: 0" in result.stdout

    tasks = {t.data.div: t for t in run["compute"]}  # artifacts set before the failure kept
    caught = tasks[0]
    assert caught.successful  # failed, but caught: the flow went on
    assert statuses(runner, caught.pathspec) == ["caught"]
    assert statuses(runner, tasks[1].pathspec) == ["ok"]
    error = caught.data.compute_failed
    assert error.type == "builtins.ZeroDivisionError" and error.message == "division by zero"
    assert "5 / self.div" in error.traceback and "catch_foreach.py" in error.traceback
    assert GRANGE_PACKAGE not in error.traceback  # none of grange's own frames
    assert tasks[1].data.compute_failed is None
    assert tasks[2].data.x == 2.5
    assert "x" not in caught.data  # never assigned: the division raised
    assert "@catch caught an exception in step 'compute'" in caught.stderr
    assert "ZeroDivisionError: division by zero" in caught.stderr
    assert "dividing by 0" in caught.stdout


def test_retry_then_catch(runner: Runner) -> None:
    result = runner.run(flow("retry_catch"))
    run = Flow("RetryCatchFlow")[result.run_id]
    assert run.successful
    fragile = run["fragile"].task
    assert statuses(runner, fragile.pathspec) == ["failed", "failed", "caught"]
    for number in (0, 1, 2):
        attempt = Task(fragile.pathspec, attempt=number)
        assert f"fragile attempt {number}" in attempt.stdout
    assert Task(fragile.pathspec, attempt=0).exception.message == "'missing on attempt 0'"
    assert fragile.data.tried == 2
    assert fragile.data.fragile_error.message == "'missing on attempt 2'"
    assert run["end"].task.data.error_type == "builtins.KeyError"
    assert run["end"].task.data.error_text == "KeyError: 'missing on attempt 2'"

    quiet = run["quiet"].task  # @catch without var, print_exception=False
    assert statuses(runner, quiet.pathspec) == ["caught"]
    assert quiet.data.reached is True
    assert "nobody hears this" not in quiet.stderr + result.stdout


def test_catch_after_the_process_died_runs_a_fallback_attempt(runner: Runner, fork: bool) -> None:
    result = runner.run(flow("catch_crash"), fork=fork)
    run = Flow("CatchCrashFlow")[result.run_id]
    assert run.successful
    task = run["crash"].task
    assert statuses(runner, task.pathspec) == ["failed", "caught"]
    assert "about to die" in Task(task.pathspec, attempt=0).stdout
    assert "SIGKILL" in run["end"].task.data.what
    assert f"[{result.run_id}/crash/{task.id}] task starting (@catch" in result.stdout
    # As in Metaflow: no exception of the step's own, a failure that @catch handled.
    assert run["end"].task.data.crashed_type == "grange.decorators.catch.FailureHandledByCatch"
    assert "killed by SIGKILL" in Task(task.pathspec, attempt=0).stderr  # its own log says so


def test_catch_sees_sys_exit_and_keyboard_interrupt(runner: Runner, fork: bool) -> None:
    result = runner.run(flow("catch_exit"), fork=fork)
    run = Flow("CatchExitFlow")[result.run_id]
    assert run.successful
    quit_seen, stop_seen = run["end"].task.data.seen
    assert quit_seen == (
        "builtins.SystemExit",
        "the step called sys.exit(4): exit code 4",
        "SystemExit: the step called sys.exit(4): exit code 4",
    )
    assert stop_seen == (
        "builtins.KeyboardInterrupt",
        "the step raised KeyboardInterrupt: stop here",
        "KeyboardInterrupt: the step raised KeyboardInterrupt: stop here",
    )
    assert "sys.exit(4)" in run["end"].task.data.quit_trace
    quits = run["quits"].task
    assert statuses(runner, quits.pathspec) == ["caught"]  # caught in the task itself
    assert quits.data.before == "set before the exit"


def test_a_step_that_succeeds_sets_its_catch_var_to_none(runner: Runner) -> None:
    result = runner.run(flow("catch_twice"))
    run = Flow("CatchTwiceFlow")[result.run_id]
    assert run["again"].task.data.seen == "ValueError: first"
    assert run["again"].task.data.error is None
    assert run["end"].task.data.final is None
