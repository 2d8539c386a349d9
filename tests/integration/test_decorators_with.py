"""``--with DECORATOR[:k=v,...]`` on run, on resume and as a top-level option: it adds
the decorator to every step that lacks it, and a step's own decorator wins."""

from __future__ import annotations

import signal
import subprocess

from decorator_support import flow, statuses
from grange import Flow, Task
from support import Runner


def test_with_retry_and_arguments(runner: Runner) -> None:
    result = runner.run(
        flow("with_flaky"),
        "--with",
        "retry:times=5,minutes_between_retries=0",
        env=runner.env(FLAKY_FAILS="5"),
    )
    run = Flow("WithFlakyFlow")[result.run_id]
    task = run["flaky"].task
    assert statuses(runner, task.pathspec) == ["failed"] * 5 + ["ok"]
    assert task.data.flaky_attempt == 5
    assert "flaky attempt 3" in Task(task.pathspec, attempt=3).stdout


def test_a_steps_own_retry_wins_over_with_retry(runner: Runner) -> None:
    result = runner.run(
        flow("with_flaky"),
        "--with",
        "retry:times=2,minutes_between_retries=0",
        env=runner.env(FLAKY_FAILS="1", GUARDED_FAILS="1"),
        ok=False,
    )
    run = Flow("WithFlakyFlow")[result.run_id]
    assert statuses(runner, run["flaky"].task.pathspec) == ["failed", "ok"]  # --with retry
    assert statuses(runner, run["guarded"].task.pathspec) == ["failed"]  # its @retry(times=0)
    assert "Step 'guarded' failed" in result.stdout
    assert "RuntimeError: not safe to retry" in result.stdout


def test_with_as_a_top_level_option(runner: Runner) -> None:
    result = runner.run(
        flow("with_flaky"),
        top=("--with", "retry:times=1,minutes_between_retries=0"),
        env=runner.env(FLAKY_FAILS="1"),
    )
    task = Flow("WithFlakyFlow")[result.run_id]["flaky"].task
    assert statuses(runner, task.pathspec) == ["failed", "ok"]


def test_with_on_resume(runner: Runner) -> None:
    env = runner.env(FLAKY_FAILS="1")
    failed = runner.run(flow("with_flaky"), env=env, ok=False)
    task = Flow("WithFlakyFlow")[failed.run_id]["flaky"].task
    assert statuses(runner, task.pathspec) == ["failed"]  # no retries without --with
    resumed = runner.resume(
        flow("with_flaky"),
        "--origin-run-id",
        failed.run_id or "",
        "--with",
        "retry:times=1,minutes_between_retries=0",
        env=env,
    )
    run = Flow("WithFlakyFlow")[resumed.run_id]
    assert run.successful
    assert statuses(runner, run["flaky"].task.pathspec) == ["failed", "ok"]


def test_with_catch_in_fresh_interpreters(runner: Runner) -> None:
    # --no-fork: each task is a new `python flow.py step`, told of --with by the runtime.
    result = runner.run(
        flow("with_flaky"),
        "--with",
        "catch:var=error",
        env=runner.env(GUARDED_FAILS="1"),
        fork=False,
    )
    run = Flow("WithFlakyFlow")[result.run_id]
    assert run.successful
    guarded = run["guarded"].task
    assert statuses(runner, guarded.pathspec) == ["caught"]
    assert str(guarded.data.error) == "RuntimeError: not safe to retry"
    assert run["flaky"].task.data.error is None


def test_with_retry_without_arguments_retries_at_once(runner: Runner) -> None:
    """As Metaflow's local runtime: no wait unless minutes_between_retries is given."""
    result = runner.run(flow("with_flaky"), "--with", "retry", env=runner.env(FLAKY_FAILS="1"))
    assert Flow("WithFlakyFlow")[result.run_id].successful
    assert "retrying in" not in result.stdout + result.stderr


def test_with_retry_waits_the_minutes_it_is_given(runner: Runner) -> None:
    """An explicit minutes_between_retries is waited. Seen in the runtime's notice, then
    the run is interrupted (Ctrl-C) rather than waited for."""
    argv, _ = runner.argv(flow("with_flaky"), "run", "--with", "retry:minutes_between_retries=2")
    proc = subprocess.Popen(
        argv,
        cwd=runner.cwd,
        env=runner.env(FLAKY_FAILS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if "retrying in" in line:
                break
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    notice = next(line for line in seen if "retrying in" in line)
    assert "/flaky/" in notice and "retrying in 120s (attempt 1)" in notice
    assert proc.returncode == 130
    assert "Interrupted" in rest
