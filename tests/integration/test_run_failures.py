"""Failures: the summary a failed run prints (status, run id, the failed step and task,
the exception, the exact resume command, a non-zero exit), an artifact that cannot be
saved, and a task process that crashes without taking the runtime down."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

import grange
from grange import Flow, Task
from support import RUN_FLOWS, Runner


def summary_of(stdout: str, flow: str, run_id: str | None) -> str:
    """The lines printed from the end-of-run summary on."""
    marker = re.search(rf"^Run {flow}/{run_id} (succeeded|FAILED)", stdout, re.M)
    assert marker, stdout
    return stdout[marker.start() :]


def test_a_successful_run_ends_with_a_one_line_summary(runner: Runner) -> None:
    result = runner.run("linear")
    summary = summary_of(result.stdout, "LinearRunFlow", result.run_id)
    assert re.fullmatch(
        rf"Run LinearRunFlow/{result.run_id} succeeded in \d+\.\d\ds \(3 task\(s\) run\)\.\n",
        summary,
    )


def test_a_failed_run_names_the_task_the_exception_and_the_resume_command(
    runner: Runner,
) -> None:
    result = runner.run("fail", env=runner.env(FAIL_ITEM="2"), ok=False)
    assert result.returncode == 1
    summary = summary_of(result.stdout, "FailRunFlow", result.run_id)
    assert f"Run FailRunFlow/{result.run_id} FAILED after" in summary
    run = Flow("FailRunFlow")[result.run_id]
    failed = [task for task in run["work"] if not task.successful]
    assert len(failed) == 1
    assert (
        f"Step 'work' failed in task {failed[0].pathspec} (attempt 0): "
        "ValueError: item 2 failed on purpose" in summary
    )
    command = re.search(r"Resume with: (.+)$", summary, re.M)
    assert command is not None
    argv = shlex.split(command.group(1))
    assert argv[0] == "python" and argv[2:] == ["resume", "--origin-run-id", result.run_id]
    assert (runner.cwd / argv[1]).resolve() == RUN_FLOWS / "fail.py"
    # The user's traceback, without grange's frames, is in the task's stderr.
    assert "fail.py" in failed[0].stderr and "ValueError: item 2" in failed[0].stderr
    assert str(Path(grange.__file__).resolve().parent / "task") not in failed[0].stderr
    assert failed[0].exception is not None
    assert failed[0].exception.type == "builtins.ValueError"
    assert run.status == "failed" and run.finished and not run.successful
    assert run.end_task is None
    # The other items of the foreach finished.
    assert sorted(t.data.out for t in run["work"] if t.successful) == [10, 30]


def test_the_printed_resume_command_works_as_printed(runner: Runner) -> None:
    failed = runner.run("fail", env=runner.env(FAIL_ITEM="1"), ok=False)
    line = re.search(r"Resume with: (.+)$", failed.stdout, re.M)
    assert line is not None
    argv = shlex.split(line.group(1))
    assert argv[0] == "python"
    resumed = runner(runner.cwd / argv[1], "resume", *argv[3:])
    run = Flow("FailRunFlow")[resumed.run_id]
    assert run.successful and run.data.outs == [10, 20, 30]


def test_an_unpicklable_artifact_fails_the_task_saying_what_to_do(runner: Runner) -> None:
    result = runner.run("unpicklable", ok=False)
    assert result.returncode == 1
    summary = summary_of(result.stdout, "UnpicklableFlow", result.run_id)
    assert "Step 'start' failed" in summary
    assert "artifact 'lock'" in summary  # the artifact
    assert "_thread.lock" in summary  # its type
    assert "step 'start'" in summary  # the step
    assert "del self.lock" in summary  # what to do
    task = Flow("UnpicklableFlow")[result.run_id]["start"].task
    assert not task.successful
    assert task.exception is not None
    assert task.exception.type == "grange.exceptions.ArtifactSerializationError"
    assert list(task) == []  # nothing of the failed attempt is visible, not even 'fine'


@pytest.mark.parametrize(
    ("how", "fork", "expected"),
    [
        ("segv", True, "SIGSEGV"),
        ("segv", False, "SIGSEGV"),
        ("null", True, "SIGSEGV"),  # a real invalid memory access, through ctypes
        ("null", False, "SIGSEGV"),
        ("exit", True, "exited with code 3"),
        ("exit", False, "exited with code 3"),
        ("sysexit", True, "the step called sys.exit(3): exit code 3"),
        ("sysexit", False, "the step called sys.exit(3): exit code 3"),
        ("interrupt", True, "the step raised KeyboardInterrupt"),
        ("interrupt", False, "the step raised KeyboardInterrupt"),
    ],
    ids=[
        "segv-fork",
        "segv-no-fork",
        "null-pointer",
        "null-pointer-no-fork",
        "exit-fork",
        "exit-no-fork",
        "sys-exit-fork",
        "sys-exit-no-fork",
        "keyboard-interrupt-fork",
        "keyboard-interrupt-no-fork",
    ],
)
def test_a_crashing_task_fails_alone(runner: Runner, how: str, fork: bool, expected: str) -> None:
    result = runner.run("crash", "--how", how, fork=fork, ok=False)
    assert result.returncode == 1
    summary = summary_of(result.stdout, "CrashRunFlow", result.run_id)
    run = Flow("CrashRunFlow")[result.run_id]
    tasks = {task.data.out if task.successful else None: task for task in run["work"]}
    assert set(tasks) == {0, 2, None}  # the other two items finished
    crashed = tasks[None]
    assert f"Step 'work' failed in task {crashed.pathspec} (attempt 0)" in summary
    assert expected in summary
    assert crashed.exception is not None and expected in crashed.exception.message
    assert "about to crash" in crashed.stdout
    assert expected in crashed.stderr  # the task's own log says how it ended
    assert run.status == "failed"
    assert "join" not in {step.id for step in run}
    if how == "null":  # faulthandler: the Python stack of the crash, in the task's log
        assert "Fatal Python error: Segmentation fault" in crashed.stderr
        assert "crash.py" in crashed.stderr
    if how in ("sysexit", "interrupt"):  # a failure of the step, at the line that exited
        name = "SystemExit" if how == "sysexit" else "KeyboardInterrupt"
        assert crashed.exception.type == f"builtins.{name}"
        line = "sys.exit(3)" if how == "sysexit" else "raise KeyboardInterrupt"
        assert line in crashed.exception.traceback and line in crashed.stderr
        assert "before it recorded a result" not in summary


def test_a_switch_value_that_is_no_case_fails_clearly(runner: Runner) -> None:
    result = runner.run("switch", "--coin", "edge", ok=False)
    summary = summary_of(result.stdout, "SwitchRunFlow", result.run_id)
    assert "self.side is 'edge', which is not one of the cases 'heads', 'tails'" in summary
    assert "Step 'start' failed" in summary


def test_a_reader_that_goes_away_does_not_stop_the_run(runner: Runner) -> None:
    # python flow.py run | head -1
    argv, id_file = runner.argv("two_at_once", "run")
    proc = subprocess.Popen(
        argv, cwd=runner.cwd, env=runner.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"Running ConcurrentRunFlow/")
    proc.stdout.close()
    with proc.stderr:
        errors = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0, errors
    assert "Error" not in errors and "Exception" not in errors
    assert id_file is not None
    run = Flow("ConcurrentRunFlow")[id_file.read_text().strip()]
    assert run.successful and len(run.data.outs) == 8


FAILS_AFTER_SETTING = """
import threading

from grange import FlowSpec, retry, step


class KeepsWhatFailedFlow(FlowSpec):
    @step
    def start(self):
        self.size = 3
        self.next(self.fit)

    @retry(times=1, minutes_between_retries=0)
    @step
    def fit(self):
        self.losses = [0.9, 0.5, float("nan")]
        self.lock = threading.Lock()  # cannot be pickled: left out, said so
        if self.losses:
            raise FloatingPointError("the loss diverged")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    KeepsWhatFailedFlow()
"""


def test_a_failed_attempt_keeps_the_artifacts_it_had_set(runner: Runner) -> None:
    """As in Metaflow: what a failing step had set can be read to debug it, for each
    attempt; a value that cannot be pickled is left out with a note, never masking the
    step's own error."""
    flow_file = runner.cwd / "keeps.py"
    flow_file.write_text(FAILS_AFTER_SETTING)
    result = runner.run(flow_file, ok=False)
    assert "FloatingPointError: the loss diverged" in result.output
    assert "artifact 'lock' of the failed task is not saved" in result.output
    run = Flow("KeepsWhatFailedFlow")[result.run_id]
    task = run["fit"].task
    assert not task.successful and task.current_attempt == 1
    for attempt in (0, 1):
        data = Task(f"{task.pathspec}", attempt=attempt).data
        assert data.losses[:2] == [0.9, 0.5] and data.size == 3
        assert "lock" not in data


def test_a_thread_left_running_does_not_hang_the_run(runner: Runner, fork: bool) -> None:
    # A fresh interpreter waits for non-daemon threads at exit; a task must not.
    result = runner.run("threads", fork=fork)
    start = Flow("ThreadsRunFlow")[result.run_id]["start"].task
    assert start.successful
    assert "note: step 'start' left 1 thread(s) running (left-behind)" in start.stderr
