"""The spun step's output: shown live on the terminal and kept as the task's logs.

The step runs in this process, so what it prints goes through ``sys.stdout``
and ``sys.stderr``: each is wrapped to write through to the terminal and to
the task's log in the spin store, up to ``--max-log-size`` per stream. (Output
written to the file descriptors directly, by a C library or a child process,
reaches the terminal but not the log.)
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from grange.task.spec import TaskSpec

LogWriter = Callable[[TaskSpec, str, bytes], None]


class _Tee:
    """A text stream that also appends what it is given to a task log."""

    def __init__(
        self, stream: TextIO, write: LogWriter, spec: TaskSpec, name: str, limit: int
    ) -> None:
        self._stream = stream
        self._write = write
        self._spec = spec
        self._name = name
        self._left = limit
        self._limit = limit

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        if "\n" in text:  # live, line by line, also when the output is a pipe
            self._stream.flush()
        if self._left > 0 and text:
            data = text.encode("utf-8", errors="replace")
            if len(data) > self._left:
                mib = self._limit / (1024 * 1024)
                data = data[: self._left] + (
                    f"\n[log truncated at --max-log-size {mib:g} MB]\n".encode()
                )
            self._left -= len(data)
            self._write(self._spec, self._name, data)
        return written

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding, buffer...
        return getattr(self._stream, name)


@contextlib.contextmanager
def captured_output(write: LogWriter | None, spec: TaskSpec, *, limit: int) -> Iterator[None]:
    """While the step runs, what it prints also goes to its logs (``write``; None: no logs)."""
    if write is None or limit <= 0:
        yield
        return
    out, err = sys.stdout, sys.stderr
    sys.stdout = _Tee(out, write, spec, "stdout", limit)
    sys.stderr = _Tee(err, write, spec, "stderr", limit)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
