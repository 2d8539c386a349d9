"""The runtime's single event loop: launch ready tasks, stream their output, reap them.

One ``selectors`` loop watches every worker's stdout/stderr pipe and the
launcher's exit notifications. A task is finished when its process has exited
and both pipes are drained; then its record is read, the attempt is handed to
the :class:`Recorder` (batched metadata writes) and the scheduler is told what
became ready. After a failure no new task starts; running ones finish.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grange.datastore import AttemptRecord
from grange.runtime.launcher import Exited, Launcher, Worker
from grange.runtime.output import Output
from grange.runtime.scheduler import Outcome, Pending, Scheduler
from grange.task.spec import TaskSpec

if TYPE_CHECKING:
    from grange.runtime.recorder import Recorder

ReadRecord = Callable[[TaskSpec], "AttemptRecord | None"]
MakeSpec = Callable[[Pending], TaskSpec]
Clone = Callable[[Pending, TaskSpec], "AttemptRecord | None"]  # resume: reuse an origin task


@dataclass
class Failure:
    spec: TaskSpec
    exit_code: int
    record: AttemptRecord | None


@dataclass
class LoopResult:
    failures: list[Failure] = field(default_factory=list)
    interrupted: bool = False
    tasks_run: int = 0
    tasks_cloned: int = 0
    steps_done: set[str] = field(default_factory=set)


@dataclass
class _Live:
    worker: Worker
    open_streams: int = 2
    partial: dict[str, bytes] = field(default_factory=lambda: {"stdout": b"", "stderr": b""})


class RunLoop:
    """Drives one run from its first task to its last."""

    def __init__(
        self,
        *,
        scheduler: Scheduler,
        launcher: Launcher,
        recorder: Recorder,
        output: Output,
        make_spec: MakeSpec,
        read_record: ReadRecord,
        clone: Clone | None = None,
        max_workers: int = 16,
        heartbeat_every: float = 10.0,
    ) -> None:
        self.scheduler = scheduler
        self.launcher = launcher
        self.recorder = recorder
        self.output = output
        self.make_spec = make_spec
        self.read_record = read_record
        self.clone = clone
        self.max_workers = max(1, max_workers)
        self.heartbeat_every = heartbeat_every
        self.sel = selectors.DefaultSelector()
        self.live: dict[int, _Live] = {}
        self.exited: dict[int, int] = {}
        self.launching = 0  # asked of the launcher, not yet started
        self.ready: deque[Iterator[Pending]] = deque()
        self.result = LoopResult()

    def run(self) -> LoopResult:
        wake = self.launcher.wakeup_fd()
        if wake is not None:
            self.sel.register(wake, selectors.EVENT_READ, None)
        self.ready.append(iter([self.scheduler.first()]))
        last_beat = 0.0
        try:
            while True:
                self._fill()
                if not self.live and not self.launching:
                    break
                # Poll the launcher often when it has no wake-up descriptor or
                # still holds requests the fork server has not accepted.
                timeout = 0.05 if wake is None else (1.0 if self.launcher.flush() else 0.005)
                for key, _ in self.sel.select(timeout):
                    if key.data is not None:
                        self._read(key.fd, key.data)
                self._reap()
                now = time.monotonic()
                if now - last_beat > self.heartbeat_every:
                    self.recorder.heartbeat()
                    last_beat = now
                self.recorder.flush(force=False)
        except KeyboardInterrupt:
            self.result.interrupted = True
            self._stop_all()
        finally:
            self.recorder.flush(force=True)
        return self.result

    # -- launching --------------------------------------------------------------

    def _next_pending(self) -> Pending | None:
        while self.ready:
            try:
                return next(self.ready[0])
            except StopIteration:
                self.ready.popleft()
        return None

    def _fill(self) -> None:
        while (
            not self.result.failures
            and not self.result.interrupted
            and len(self.live) + self.launching < self.max_workers
        ):
            pending = self._next_pending()
            if pending is None:
                return
            spec = self.make_spec(pending)
            cloned = self.clone(pending, spec) if self.clone else None
            if cloned is not None:
                self.result.tasks_cloned += 1
                self.recorder.cloned(spec, cloned)
                self._advance(spec, cloned)
                continue
            self.launcher.launch(spec)
            self.launching += 1
            self.recorder.started(spec)
            self.output.task_started(spec)

    def _started(self, worker: Worker) -> None:
        self.launching -= 1
        self.live[worker.pid] = _Live(worker)
        for fd, stream in ((worker.stdout, "stdout"), (worker.stderr, "stderr")):
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ, (worker.pid, stream))

    # -- output -----------------------------------------------------------------

    def _read(self, fd: int, data: tuple[int, str]) -> None:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        if chunk:
            self._feed(data, chunk)
        else:
            self._read_eof(fd, data)

    # -- finishing --------------------------------------------------------------

    def _reap(self) -> None:
        for event in self.launcher.events():
            if isinstance(event, Exited):
                self.exited[event.pid] = event.code
            else:
                self._started(event)
        for pid in [p for p in self.exited if p in self.live]:
            live = self.live[pid]
            if live.open_streams:
                # Drain what is left; a grandchild may hold the pipe open, so
                # stop waiting for EOF once nothing more is readable. A stream
                # that already hit EOF is closed, and its descriptor number may
                # now belong to another worker's pipe: drain only our own.
                for fd in (live.worker.stdout, live.worker.stderr):
                    key = self.sel.get_map().get(fd)
                    if key is None or key.data is None or key.data[0] != pid:
                        continue
                    with contextlib.suppress(OSError):
                        self._drain(fd, key.data)
                if live.open_streams:
                    continue
            self._finish(live.worker, self.exited.pop(pid))

    def _drain(self, fd: int, data: tuple[int, str]) -> None:
        while fd in self.sel.get_map():
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                # Exited but the pipe is still open elsewhere: close our end.
                self.sel.unregister(fd)
                os.close(fd)
                self.live[data[0]].open_streams -= 1
                return
            if not chunk:
                self._read_eof(fd, data)
                return
            self._feed(data, chunk)

    def _feed(self, data: tuple[int, str], chunk: bytes) -> None:
        pid, stream = data
        live = self.live[pid]
        text = live.partial[stream] + chunk
        lines = text.split(b"\n")
        live.partial[stream] = lines.pop()
        if lines:
            self.output.task_lines(live.worker.spec, stream, lines)
            self.recorder.log(live.worker.spec, stream, b"\n".join(lines) + b"\n")

    def _read_eof(self, fd: int, data: tuple[int, str]) -> None:
        pid, stream = data
        live = self.live[pid]
        if live.partial[stream]:
            self.output.task_lines(live.worker.spec, stream, [live.partial[stream]])
            self.recorder.log(live.worker.spec, stream, live.partial[stream])
            live.partial[stream] = b""
        self.sel.unregister(fd)
        os.close(fd)
        live.open_streams -= 1

    def _finish(self, worker: Worker, code: int) -> None:
        del self.live[worker.pid]
        for path in worker.cleanup:
            with contextlib.suppress(OSError):
                os.unlink(path)
        record = self.read_record(worker.spec)
        self.result.tasks_run += 1
        self.recorder.finished(worker.spec, record, code)
        if code == 0 and record is not None and record.status == "ok":
            self.output.task_finished(worker.spec, ok=True)
            self._advance(worker.spec, record)
        else:
            self.output.task_finished(worker.spec, ok=False)
            self.result.failures.append(Failure(worker.spec, code, record))

    def _advance(self, spec: TaskSpec, record: AttemptRecord) -> None:
        self.result.steps_done.add(spec.step)
        foreach = record.extra.get("foreach") or {}
        outcome = Outcome(
            task_id=spec.task_id,
            step=spec.step,
            frames=spec.frames,
            next_steps=tuple(record.extra.get("next", ())),
            iteration=spec.iteration,
            foreach_count=foreach.get("count"),
            foreach_key=foreach.get("key"),
        )
        self.ready.append(self.scheduler.on_success(outcome))

    def _stop_all(self) -> None:
        for live in list(self.live.values()):
            self.launcher.kill(live.worker)
        deadline = time.monotonic() + 5
        while (self.live or self.launching) and time.monotonic() < deadline:
            for key, _ in self.sel.select(0.05):
                if key.data is not None:
                    self._read(key.fd, key.data)
            self._reap()
