"""Reading workers' stdout and stderr pipes line by line, without blocking.

The run loop registers each worker's two pipes here; complete lines go to a
sink (the terminal and the attempt's log), a last partial line when the pipe
closes. A worker has finished writing once both its pipes are closed — or,
after it exited, once nothing more is readable (a grandchild may hold a pipe
open forever).
"""

from __future__ import annotations

import contextlib
import os
import selectors
from collections.abc import Callable
from dataclasses import dataclass, field

from grange.task.spec import TaskSpec

LineSink = Callable[[TaskSpec, str, list[bytes], bool], None]  # ..., ends with a newline


@dataclass
class _Streams:
    spec: TaskSpec
    open: int = 2
    partial: dict[str, bytes] = field(default_factory=lambda: {"stdout": b"", "stderr": b""})


class PipeReader:
    """The stdout/stderr pipes of every live worker, keyed by pid."""

    def __init__(self, sel: selectors.BaseSelector, sink: LineSink) -> None:
        self.sel = sel
        self.sink = sink
        self._streams: dict[int, _Streams] = {}

    def add(self, pid: int, spec: TaskSpec, stdout: int, stderr: int) -> None:
        self._streams[pid] = _Streams(spec)
        for fd, stream in ((stdout, "stdout"), (stderr, "stderr")):
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ, (pid, stream))

    def is_open(self, pid: int) -> bool:
        return pid in self._streams and self._streams[pid].open > 0

    def forget(self, pid: int) -> None:
        self._streams.pop(pid, None)

    def read(self, fd: int, data: tuple[int, str]) -> None:
        """The selector says ``fd`` is readable: take what is there."""
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        if chunk:
            self._feed(data, chunk)
        else:
            self._close(fd, data)

    def drain(self, pid: int) -> None:
        """The worker exited: read what is left, and close pipes held open elsewhere."""
        for key in list(self.sel.get_map().values()):
            if key.data is None or key.data[0] != pid:
                continue
            fd = key.fd
            with contextlib.suppress(OSError):
                while True:
                    try:
                        chunk = os.read(fd, 65536)
                    except BlockingIOError:
                        self._close(fd, key.data)  # still open in a grandchild
                        break
                    if not chunk:
                        self._close(fd, key.data)
                        break
                    self._feed(key.data, chunk)

    def _feed(self, data: tuple[int, str], chunk: bytes) -> None:
        pid, stream = data
        streams = self._streams[pid]
        lines = (streams.partial[stream] + chunk).split(b"\n")
        streams.partial[stream] = lines.pop()
        if lines:
            self.sink(streams.spec, stream, lines, True)

    def _close(self, fd: int, data: tuple[int, str]) -> None:
        pid, stream = data
        streams = self._streams[pid]
        if streams.partial[stream]:
            self.sink(streams.spec, stream, [streams.partial[stream]], False)
            streams.partial[stream] = b""
        self.sel.unregister(fd)
        os.close(fd)
        streams.open -= 1
