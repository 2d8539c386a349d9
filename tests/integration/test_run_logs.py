"""Logs: streamed while the run goes with ``[run/step/task]`` prefixes, stored per task
and stream, read back by the client and by ``python flow.py logs RUN/STEP[/TASK]``."""

from __future__ import annotations

import subprocess

from grange import Flow
from support import Runner


def test_output_is_streamed_with_prefixes_and_stored(runner: Runner, fork: bool) -> None:
    result = runner.run("logs", fork=fork)
    run = Flow("LogsRunFlow")[result.run_id]
    start = run["start"].task
    prefix = f"[{result.run_id}/start/{start.id}]"
    lines = result.stdout.splitlines()
    assert f"{prefix} hello from start" in lines
    assert f"{prefix} a warning from start" in lines
    assert f"{prefix} no newline at the end" in lines
    assert start.stdout == "hello from start\nno newline at the end"
    assert start.stderr == "a warning from start\n"
    for task in run["work"]:
        item = task.index
        assert task.stdout == "".join(f"item {item} line {n}\n" for n in range(3))
        assert task.stderr == ""
        for n in range(3):
            assert f"[{result.run_id}/work/{task.id}] item {item} line {n}" in lines
    assert run["end"].task.stdout == "bye\ncaf\ufffd \ufffd not utf-8\n"


def test_a_task_closing_its_stdout_leaves_other_pipes_alone(runner: Runner, fork: bool) -> None:
    result = runner.run("pipes", fork=fork)
    run = Flow("PipesFlow")[result.run_id]
    closer = run["closer"].task
    assert closer.stdout == "closing stdout\n"
    assert closer.stderr == "still on stderr\n"
    for task in run["printer"]:
        assert task.stdout == "".join(f"item {task.index} line {n}\n" for n in range(10))


def test_logs_command(runner: Runner) -> None:
    run_id = runner.run("logs").run_id
    run = Flow("LogsRunFlow")[run_id]
    start = run["start"].task
    out = runner("logs", "logs", f"{run_id}/start/{start.id}", "--stdout")
    assert out.stdout == "hello from start\nno newline at the end"  # as stored: no newline added
    err = runner("logs", "logs", f"{run_id}/start/{start.id}", "--stderr")
    assert err.stdout == "a warning from start\n"
    both = runner("logs", "logs", f"{run_id}/work")
    for task in run["work"]:
        assert f"==> {task.pathspec} stdout (attempt 0) <==" in both.stderr
        assert task.stdout in both.stdout
    missing = runner("logs", "logs", f"{run_id}/nosuch", ok=False)
    assert "step LogsRunFlow/" in missing.stderr and "does not exist" in missing.stderr
    other = runner("logs", "logs", f"OtherFlow/{run_id}/start", ok=False)
    assert other.returncode == 2
    assert f"OtherFlow/{run_id}/start is a path in flow OtherFlow" in other.stderr
    assert "LogsRunFlow/OtherFlow" not in other.stderr
    named = runner("logs", "logs", f"LogsRunFlow/{run_id}/start/{start.id}", "--stdout")
    assert named.stdout == out.stdout


def test_logs_command_prints_the_stored_bytes(runner: Runner) -> None:
    run_id = runner.run("logs").run_id
    end = Flow("LogsRunFlow")[run_id]["end"].task
    assert end.log_bytes("stdout") == b"bye\ncaf\xe9 \xff not utf-8\n"
    argv, _ = runner.argv("logs", "logs", f"{run_id}/end/{end.id}", "--stdout")
    proc = subprocess.run(argv, cwd=runner.cwd, env=runner.env(), capture_output=True, check=True)
    assert proc.stdout == b"bye\ncaf\xe9 \xff not utf-8\n"


def test_a_failed_task_keeps_its_output_and_traceback(runner: Runner) -> None:
    result = runner.run("fail", env=runner.env(FAIL_ITEM="3"), ok=False)
    run = Flow("FailRunFlow")[result.run_id]
    failed = next(t for t in run["work"] if not t.successful)
    logs = runner("fail", "logs", f"{result.run_id}/work/{failed.id}", "--stderr")
    assert "Traceback (most recent call last):" in logs.stdout
    assert "ValueError: item 3 failed on purpose" in logs.stdout
    assert failed.stdout == "working on 3\n"
    assert f"[{result.run_id}/work/{failed.id}] ValueError: item 3 failed on purpose" in (
        result.stdout
    )
