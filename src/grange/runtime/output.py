"""What a run prints: task log lines prefixed with ``[run/step/task]``, and the summary.

Plain lines suit pipes and CI; :class:`~grange.runtime.progress.LiveOutput`
is the live view for terminals, with the same methods.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import TextIO

from grange.task.spec import TaskSpec


class Output:
    """Plain, line-oriented run output."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.started = time.monotonic()
        self.reader_gone = False  # stdout was a pipe whose reader exited (``run | head``)

    def _prefix(self, spec: TaskSpec) -> str:
        return f"[{spec.run_id}/{spec.step}/{spec.task_id}]"

    def line(self, text: str) -> None:
        if not self.quiet:
            self._print(text)

    def _print(self, text: str) -> None:
        """Print a line; if nobody reads the output any more, the run goes on silently."""
        if self.reader_gone:
            return
        try:
            print(text, file=self.stream, flush=True)
        except BrokenPipeError:
            self.reader_gone = True
            # Point the stream at /dev/null so that later flushes (at exit too) succeed.
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self.stream.fileno())
                os.close(devnull)

    def run_started(self, flow: str, run_id: str, *, resumed_from: str | None = None) -> None:
        origin = f", resuming run {resumed_from}" if resumed_from else ""
        self.line(f"Running {flow}/{run_id}{origin}")

    def task_started(self, spec: TaskSpec) -> None:
        if "catch" in spec.extra:
            retry = " (@catch: no user code, the flow goes on)"
        else:
            retry = f" (retry {spec.attempt})" if spec.attempt else ""
        self.line(f"{self._prefix(spec)} task starting{retry}")

    def task_lines(self, spec: TaskSpec, stream: str, lines: list[bytes]) -> None:
        if self.quiet:
            return
        prefix = self._prefix(spec)
        out = "\n".join(f"{prefix} {raw.decode('utf-8', 'replace')}" for raw in lines)
        self._print(out)

    def task_finished(self, spec: TaskSpec, *, ok: bool, retrying: bool = False) -> None:
        state = "finished" if ok else ("failed, will retry" if retrying else "FAILED")
        self.line(f"{self._prefix(spec)} task {state}")

    def task_cloned(self, spec: TaskSpec) -> None:
        """A resumed run reused this task from its origin run."""

    def expect(self, step: str, count: int) -> None:
        """``count`` more tasks of ``step`` are coming (a foreach fanned out)."""

    def paused(self) -> contextlib.AbstractContextManager[object]:
        """A block during which the output runs no thread of its own (for a fork)."""
        return contextlib.nullcontext()

    def notice(self, text: str) -> None:
        """A one-line remark of the runtime (not a task's output)."""
        self.line(text)

    def close(self) -> None:
        """The run is over: stop any live display (before the summary)."""

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def summary(self, text: str) -> None:
        self._print(text)
