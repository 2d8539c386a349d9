"""What a run prints: on a terminal (a pseudo-terminal here) a live view with a row per
step and its done/running counts, task lines still printed above it; through a pipe,
plain lines prefixed with [run/step/task]; with --quiet, the summary alone."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios

import pytest

from decorator_support import flow
from support import Runner

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PREFIXED = re.compile(r"^\[\d+/\w+/\d+\] ")


def run_in_terminal(
    runner: Runner, top: tuple[str, ...] = (), work_seconds: str = "0"
) -> tuple[int, str, str]:
    """Run the flow with its output on a 120x40 pseudo-terminal: exit status, raw output,
    and the output without escape sequences."""
    argv, _ = runner.argv(flow("progress"), "run", top=top)
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    try:
        proc = subprocess.Popen(
            argv,
            cwd=runner.cwd,
            env=runner.env(TERM="xterm-256color", WORK_SECONDS=work_seconds),
            stdin=child,
            stdout=child,
            stderr=child,
            close_fds=True,
        )
    finally:
        os.close(child)
    chunks = []
    try:
        while True:
            try:
                data = os.read(main, 65536)
            except OSError:  # EIO: every writer of the terminal is gone
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=60)
    finally:
        os.close(main)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    raw = b"".join(chunks).decode("utf-8", "replace")
    return code, raw, ANSI.sub("", raw).replace("\r", "")


def test_a_terminal_gets_the_live_view_and_the_task_lines(runner: Runner) -> None:
    code, raw, text = run_in_terminal(runner, work_seconds="1")
    assert code == 0, text
    assert "\x1b[" in raw  # drawn, not printed line by line
    run_id = re.search(r"Run ProgressFlow/(\d+) succeeded", text)
    assert run_id, text
    # Task output is still printed, with its prefix.
    assert re.search(rf"\[{run_id[1]}/work/\d+\] hello from item 0", text), text
    assert re.search(rf"\[{run_id[1]}/work/\d+\] hello from item 1", text), text
    assert "task starting" not in text  # the view shows that instead
    # While the two work tasks ran, a frame showed them: 0 of 2 done, 2 running.
    assert re.search(r"work\s.*?0/2\s+2\s", text), text
    # The view as the run ended: one row per step with its tasks done.
    final = text[text.rindex(f"Running ProgressFlow/{run_id[1]}") :]
    for row in (r"start\s+1\s", r"work\s.*?2/2\s", r"join\s+1\s", r"end\s+1\s"):
        assert re.search(row, final), final
    assert re.search(r"step\s+done\s+running\s+failed\s+retrying", final), final


def test_a_pipe_gets_plain_prefixed_lines(runner: Runner) -> None:
    result = runner.run(flow("progress"))
    assert "\x1b" not in result.stdout
    lines = result.stdout.splitlines()
    assert lines[0] == f"Running ProgressFlow/{result.run_id}"
    assert lines[-1].startswith(f"Run ProgressFlow/{result.run_id} succeeded in ")
    body = lines[1:-1]
    assert body and all(PREFIXED.match(line) for line in body), result.stdout
    assert any(line.endswith("] hello from item 1") for line in body)
    assert any(line.endswith("] task starting") for line in body)


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
def test_quiet_prints_only_the_summary(runner: Runner, terminal: bool) -> None:
    if terminal:
        code, _, text = run_in_terminal(runner, top=("--quiet",))
        assert code == 0
    else:
        text = runner.run(flow("progress"), top=("--quiet",)).stdout
    assert re.fullmatch(
        r"Run ProgressFlow/\d+ succeeded in \d+\.\d\ds \(5 task\(s\) run\)\.\n", text
    ), text
