"""An attempt's stdout and stderr, appended while the task runs.

Logs live beside the attempt's record (``.../<attempt>/stdout.log``) and are
plain bytes: what the task wrote, in order. Unlike blobs they grow, so a reader
may see a log grow, and a log exists for attempts that never committed a
record (that is how a crashed task's output is found).

On a store that appends cheaply (local disk) every write is appended at once.
An object store (S3) cannot append: there the sink keeps the whole log in
memory and uploads it whole, replacing the previous upload, at most every
``upload_every`` seconds while output arrives (a background thread uploads
output that then goes quiet) and once more when the sink is closed. A reader
of a running task's log therefore sees its output up to a few seconds late,
and the complete log once the task ends.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from types import TracebackType

from grange.datastore.backend import BlobStore, Chunk
from grange.datastore.errors import write_error
from grange.datastore.records import TaskPaths
from grange.exceptions import BlobNotFound

#: Seconds between uploads of a growing log on a store that cannot append.
UPLOAD_EVERY = 3.0
#: How often the background thread looks for logs to upload.
TICK = 0.5


def log_key(flow: str, run_id: str, step: str, task_id: str, attempt: int, stream: str) -> str:
    """The key of an attempt's ``stdout`` or ``stderr`` log."""
    return TaskPaths(flow, run_id, step, task_id, attempt).log(stream)


class LogSink:
    """Writes bytes to one log key; see the module doc for the two strategies.

    Appending stores: with the default ``buffer_size=0`` every :meth:`write`
    reaches the store at once, so a reader following the log sees each line as
    it is written. Use it as a context manager, or call :meth:`close`, to flush
    the rest (on an object store, :meth:`close` uploads the final log and raises
    if it cannot).
    """

    def __init__(
        self,
        blobs: BlobStore,
        key: str,
        *,
        buffer_size: int = 0,
        upload_every: float = UPLOAD_EVERY,
    ) -> None:
        self.blobs = blobs
        self.key = key
        self.buffer_size = buffer_size
        self.upload_every = upload_every
        self._pending = bytearray()
        self.closed = False
        self._whole = not blobs.can_append
        if self._whole:
            self._lock = threading.Lock()  # guards _pending and _dirty
            self._upload_lock = threading.Lock()  # one upload at a time, in order
            self._dirty = False
            self._uploaded_at = time.monotonic() - upload_every  # the first goes soon

    def write(self, data: Chunk) -> int:
        """Add ``data`` (one or more whole lines, usually); returns its length."""
        if self.closed:
            raise ValueError(f"log sink for {self.key} is closed")
        view = memoryview(data).cast("B")
        if self._whole:
            self._add(view)
        else:
            self._pending += view
            if len(self._pending) > self.buffer_size:
                self.flush()
        return view.nbytes

    def writelines(self, lines: Iterable[Chunk]) -> None:
        """Add several chunks with one write to the store."""
        if self._whole:
            for line in lines:
                self._add(memoryview(line).cast("B"))
            return
        for line in lines:
            self._pending += memoryview(line).cast("B")
        if len(self._pending) > self.buffer_size:
            self.flush()

    def flush(self) -> None:
        if self._whole:
            self._upload()
            return
        if self._pending:
            try:
                self.blobs.append_bytes(self.key, bytes(self._pending))
            except OSError as err:
                raise write_error(err, f"the log {self.key}", self.blobs.url(self.key)) from None
            self._pending.clear()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.flush()

    # -- whole-log uploads (stores that cannot append) ----------------------------

    def _add(self, view: memoryview) -> None:
        with self._lock:
            self._pending += view
            self._dirty = True
        _flusher.watch(self)  # uploaded by the flusher: writing never waits for S3

    def _upload(self) -> None:
        """Put the whole log so far, if it changed since the last upload."""
        with self._upload_lock:
            with self._lock:
                if not self._dirty:
                    return
                data = bytes(self._pending)
                self._dirty = False
            try:
                self.blobs.put_bytes(self.key, data, overwrite=True)
            except BaseException:
                with self._lock:
                    self._dirty = True  # try again with the next upload
                raise
            finally:
                self._uploaded_at = time.monotonic()

    def __enter__(self) -> LogSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def close_all(sinks: Iterable[LogSink]) -> None:
    """Close several sinks; on a store that cannot append, their final uploads are
    one concurrent batch (:meth:`BlobStore.put_many`) instead of one after another."""
    whole: dict[BlobStore, dict[int, LogSink]] = {}
    for sink in sinks:
        if sink.closed:
            continue
        if sink._whole:
            whole.setdefault(sink.blobs, {})[id(sink)] = sink
        else:
            sink.close()
    for blobs, group in whole.items():
        with contextlib.ExitStack() as stack:
            items = []
            for sink in group.values():
                sink.closed = True
                stack.enter_context(sink._upload_lock)  # no background upload overtakes
                with sink._lock:
                    if sink._dirty:
                        items.append((sink, bytes(sink._pending)))
                        sink._dirty = False
            try:
                blobs.put_many([(sink.key, [data]) for sink, data in items], overwrite=True)
            except BaseException:
                for sink, _ in items:  # still to upload: closing again retries
                    sink._dirty, sink.closed = True, False
                raise


class _Flusher:
    """One daemon thread per process that uploads logs whose output went quiet."""

    def __init__(self) -> None:
        self._sinks: weakref.WeakSet[LogSink] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()  # set: end the thread now (paused)
        self._paused = 0

    def watch(self, sink: LogSink) -> None:
        with self._lock:
            self._sinks.add(sink)
            if not self._paused and (self._thread is None or not self._thread.is_alive()):
                self._wake.clear()
                self._thread = threading.Thread(
                    target=self._run, name="grange-log-upload", daemon=True
                )
                self._thread.start()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        with self._lock:
            self._paused += 1
            thread, self._thread = self._thread, None
            self._wake.set()
        if thread is not None:
            thread.join()
        try:
            yield
        finally:
            with self._lock:
                self._paused -= 1
                waiting = bool(self._sinks)
            if waiting:
                for sink in list(self._sinks):
                    self.watch(sink)
                    break

    def _run(self) -> None:
        while not self._wake.wait(TICK):
            with self._lock:
                for sink in [s for s in self._sinks if s.closed or not s._dirty]:
                    self._sinks.discard(sink)
                sinks = list(self._sinks)
                if not sinks:
                    self._thread = None
                    return
            now = time.monotonic()
            for sink in sinks:
                if not sink.closed and now - sink._uploaded_at >= sink.upload_every:
                    try:
                        sink._upload()
                    except Exception:
                        continue


_flusher = _Flusher()


def paused_uploads() -> contextlib.AbstractContextManager[None]:
    """While in this block, no thread uploads logs in the background (the thread is
    ended, and started again after): for a process about to ``fork``, which must not
    copy a lock another thread holds. Output written meanwhile is kept and uploaded
    after the block (or when its sink is closed)."""
    return _flusher.paused()


def read_log(blobs: BlobStore, key: str) -> bytes:
    """The whole log, or ``b''`` if nothing was ever written to it."""
    try:
        return blobs.get_bytes(key)
    except BlobNotFound:
        return b""
