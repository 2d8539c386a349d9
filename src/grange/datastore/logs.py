"""An attempt's stdout and stderr, appended while the task runs.

Logs live beside the attempt's record (``.../<attempt>/stdout.log``) and are
plain bytes: what the task wrote, in order. Unlike blobs they are appended to,
so a reader may see a log grow, and a log exists for attempts that never
committed a record (that is how a crashed task's output is found).
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType

from grange.datastore.backend import BlobStore, Chunk
from grange.datastore.errors import write_error
from grange.datastore.records import TaskPaths
from grange.exceptions import BlobNotFound


def log_key(flow: str, run_id: str, step: str, task_id: str, attempt: int, stream: str) -> str:
    """The key of an attempt's ``stdout`` or ``stderr`` log."""
    return TaskPaths(flow, run_id, step, task_id, attempt).log(stream)


class LogSink:
    """Appends bytes to one log key, buffering up to ``buffer_size`` bytes.

    With the default ``buffer_size=0`` every :meth:`write` reaches the store at
    once, so a reader following the log sees each line as it is written.
    Use it as a context manager, or call :meth:`close`, to flush the rest.
    """

    def __init__(self, blobs: BlobStore, key: str, *, buffer_size: int = 0) -> None:
        self.blobs = blobs
        self.key = key
        self.buffer_size = buffer_size
        self._pending = bytearray()
        self.closed = False

    def write(self, data: Chunk) -> int:
        """Append ``data`` (one or more whole lines, usually); returns its length."""
        if self.closed:
            raise ValueError(f"log sink for {self.key} is closed")
        view = memoryview(data).cast("B")
        self._pending += view
        if len(self._pending) > self.buffer_size:
            self.flush()
        return view.nbytes

    def writelines(self, lines: Iterable[Chunk]) -> None:
        """Append several chunks with one write to the store."""
        for line in lines:
            self._pending += memoryview(line).cast("B")
        if len(self._pending) > self.buffer_size:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            try:
                self.blobs.append_bytes(self.key, bytes(self._pending))
            except OSError as err:
                raise write_error(err, f"the log {self.key}", self.blobs.url(self.key)) from None
            self._pending.clear()

    def close(self) -> None:
        if not self.closed:
            self.flush()
            self.closed = True

    def __enter__(self) -> LogSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_log(blobs: BlobStore, key: str) -> bytes:
    """The whole log, or ``b''`` if nothing was ever written to it."""
    try:
        return blobs.get_bytes(key)
    except BlobNotFound:
        return b""
