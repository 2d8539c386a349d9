"""One flow command in a subprocess, its output in log files (read, followed, echoed).

The process leads its own process group, so that :meth:`FlowProcess.kill` ends
the run and every task process it started, and nothing is left behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import IO

from grange.exceptions import RunnerError

STREAMS = ("stdout", "stderr")
POLL = 0.05  # seconds between looks at a running process and its log files
KILL_GRACE = 10.0  # seconds for the run to stop its tasks on SIGTERM before SIGKILL


class FlowProcess:
    """``argv`` started in ``cwd`` with ``env``; stdout and stderr go to files in ``folder``."""

    def __init__(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str],
        cwd: str,
        folder: Path,
        preexec_fn: Callable[[], object] | None = None,
    ) -> None:
        self.argv = argv
        self.log_files = {name: folder / f"{name}.log" for name in STREAMS}
        self.timed_out = False
        self.killed = False
        with (
            open(self.log_files["stdout"], "wb") as out,
            open(self.log_files["stderr"], "wb") as err,
        ):
            try:
                self.process = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env=dict(env),
                    cwd=cwd,
                    start_new_session=True,
                    preexec_fn=preexec_fn,  # grange.testing: the run dies with the test
                )
            except (OSError, ValueError) as exc:  # E2BIG, a NUL in a value, a missing cwd
                raise RunnerError(
                    f"cannot start the flow's command ({type(exc).__name__}: {exc})",
                    fix="check the cwd, and that no argument or env value holds a NUL "
                    "character or is too long for a command line (pass big inputs as a file)",
                ) from None
        self._echoed = dict.fromkeys(STREAMS, 0)
        self._kept: dict[str, bytes] | None = None

    def keep_output(self) -> None:
        """Read the output into memory (before its files are removed)."""
        if self._kept is None:
            self._kept = {name: self._bytes(name, 0) for name in STREAMS}

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def read(self, stream: str) -> str:
        """All the output of ``stream`` so far."""
        return self._bytes(stream, 0).decode("utf-8", errors="replace")

    def _bytes(self, stream: str, start: int) -> bytes:
        """The output of ``stream`` from byte ``start``: from its file, or from memory
        once the file is gone (after cleanup)."""
        if self._kept is not None:
            return self._kept[stream][start:]
        with open(self.log_files[stream], "rb") as f:
            f.seek(start)
            return f.read()

    def echo(self) -> None:
        """Copy the output written since the last echo to this process's stdout/stderr."""
        for stream, target in (("stdout", sys.stdout), ("stderr", sys.stderr)):
            data = self._bytes(stream, self._echoed[stream])
            if data:
                self._echoed[stream] += len(data)
                _write(target, data)

    def wait_blocking(self, show_output: bool) -> int:
        """Wait for the end, echoing the output as it comes when ``show_output``."""
        while True:
            try:
                code = self.process.wait(timeout=0.1 if show_output else None)
            except subprocess.TimeoutExpired:
                self.echo()
                continue
            if show_output:
                self.echo()
            return code

    async def wait(self, timeout: float | None = None, stream: str | None = None) -> None:
        """Wait for the end (killing the run after ``timeout`` seconds), printing
        ``stream`` (``"stdout"`` or ``"stderr"``) to this process's stdout meanwhile."""
        check_stream(stream, optional=True)
        deadline = None if timeout is None else time.monotonic() + timeout
        position = 0
        while True:
            done = self.returncode is not None
            if stream is not None:
                position = self._print_from(stream, position, final=done)
            if done:
                return
            if deadline is not None and time.monotonic() >= deadline:
                self.timed_out = True
                self.kill()
                continue
            await asyncio.sleep(POLL)

    def _print_from(self, stream: str, position: int, *, final: bool) -> int:
        data = self._bytes(stream, position)
        if not final:
            data = data[: data.rfind(b"\n") + 1]  # whole lines only while it runs
        if data:
            _write(sys.stdout, data)
        return position + len(data)

    async def stream_log(
        self, stream: str, position: int | None = None
    ) -> AsyncIterator[tuple[int, str]]:
        """``(position after the line, line)`` for each line of ``stream`` from
        ``position`` (a byte offset a previous call yielded), as they are written,
        until the process has ended and every line is read."""
        check_stream(stream)
        offset = position or 0
        pending = b""
        while True:
            done = self.returncode is not None  # before reading: nothing is missed
            pending += self._bytes(stream, offset + len(pending))
            while b"\n" in pending:
                line, _, pending = pending.partition(b"\n")
                offset += len(line) + 1
                yield offset, line.decode("utf-8", errors="replace")
            if done:
                if pending:
                    offset += len(pending)
                    yield offset, pending.decode("utf-8", errors="replace")
                return
            await asyncio.sleep(POLL)

    def kill(self, grace: float = KILL_GRACE) -> None:
        """End the run: SIGTERM (the runtime stops its tasks and records the run as
        stopped, as on Ctrl-C), then after ``grace`` seconds SIGKILL to every process
        of its group. Nothing when it has ended already."""
        if self.process.poll() is None:
            self.killed = True
            _signal(self.process.pid, signal.SIGTERM, group=False)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal(self.process.pid, signal.SIGKILL, group=True)
                self.process.wait()
        _signal(self.process.pid, signal.SIGKILL, group=True)  # any task left behind


def check_stream(stream: str | None, *, optional: bool = False) -> None:
    from grange.exceptions import RunnerError

    if (stream is None and optional) or stream in STREAMS:
        return
    raise RunnerError(f"no output stream {stream!r}", fix="pass stream='stdout' or stream='stderr'")


def _signal(pid: int, sig: int, *, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, sig)  # the process leads its group (start_new_session)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _write(target: IO[str], data: bytes) -> None:
    target.write(data.decode("utf-8", errors="replace"))
    target.flush()
