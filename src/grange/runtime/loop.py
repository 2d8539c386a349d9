"""The runtime's single event loop: launch ready tasks, stream their output, reap them.

One ``selectors`` loop watches every worker's stdout/stderr pipe
(:class:`~grange.runtime.pipes.PipeReader`) and the launcher's notifications.
A task attempt is finished when its process has exited and its pipes are
drained; then its record is read, the attempt goes to the :class:`Recorder`
(batched metadata writes), and either the scheduler is told what became ready
or the :class:`~grange.runtime.attempts.AttemptPolicy` decides what follows a
failure: a retry after a delay, the ``@catch`` fallback, or the end of the run
(after a failure no new task starts; running ones finish). The policy also
admits tasks by their ``@resources`` and gives their ``@timeout`` deadline.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import selectors
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from grange.datastore import AttemptRecord
from grange.runtime.attempts import (
    TIMEOUT_TYPE,
    AttemptPolicy,
    Fallback,
    Retry,
    died_exception,
    timeout_exception,
)
from grange.runtime.launcher import Exited, Launcher, Notice, NotStarted, Worker
from grange.runtime.output import Output
from grange.runtime.parallel import Gangs, Settled
from grange.runtime.pipes import PipeReader
from grange.runtime.scheduler import Outcome, Pending, Scheduler
from grange.runtime.signals import signal_of
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
    exception: dict[str, Any] | None = None


@dataclass
class LoopResult:
    failures: list[Failure] = field(default_factory=list)
    interrupted: bool = False
    stop_signal: int = 2  # what interrupted it: SIGINT (Ctrl-C), SIGTERM or SIGHUP
    tasks_run: int = 0
    tasks_cloned: int = 0
    steps_done: set[str] = field(default_factory=set)


@dataclass
class _Live:
    worker: Worker
    started: float
    deadline: float | None = None
    timed_out: bool = False


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
        policy: AttemptPolicy,
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
        self.policy = policy
        self.clone = clone
        self.max_workers = max(1, max_workers)
        self.heartbeat_every = heartbeat_every
        self.sel = selectors.DefaultSelector()
        self.pipes = PipeReader(self.sel, self._lines)
        self.live: dict[int, _Live] = {}
        self.exited: dict[int, int] = {}
        self.lost: set[int] = set()  # exits the launcher did not see (see Exited.lost)
        self.launching = 0  # asked of the launcher, not yet started
        self.ready: deque[Iterator[Pending]] = deque()
        self.delayed: list[tuple[float, int, TaskSpec]] = []  # retries and @catch fallbacks
        self.held: TaskSpec | None = None  # next task, waiting for free resources
        self._order = itertools.count()
        self._wake: int | None = None  # the launcher's descriptor, registered in sel
        self._last_beat = 0.0
        self.result = LoopResult()
        self.gangs = Gangs(scheduler.graph)  # @parallel steps: see runtime.parallel

    def run(self) -> LoopResult:
        self.ready.append(iter([self.scheduler.first()]))
        try:
            while True:
                wake = self._watch_launcher()
                self._fill()
                if not self.live and not self.launching and (self._stopping or not self._waiting):
                    break
                for key, _ in self.sel.select(self._timeout(wake)):
                    if key.data is not None:
                        self.pipes.read(key.fd, key.data)
                self._reap()
                self._enforce_deadlines()
                self._keep_alive()
        except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM/SIGHUP (signals.Stopped)
            self.result.interrupted = True
            self.result.stop_signal = signal_of(interrupt)
            self._stop_all()
        finally:
            self.recorder.flush(force=True)
        return self.result

    def _keep_alive(self) -> None:
        """Heartbeat the run now and then, and write what the recorder batched."""
        now = time.monotonic()
        if now - self._last_beat > self.heartbeat_every:
            self.recorder.heartbeat()
            self._last_beat = now
        self.recorder.flush(force=False)

    def _watch_launcher(self) -> int | None:
        """Select on the launcher's wake-up descriptor, which may change (a fork
        server that died is replaced by fresh interpreters, which have none)."""
        wake = self.launcher.wakeup_fd()
        if wake != self._wake:
            if self._wake is not None:
                self.sel.unregister(self._wake)
            if wake is not None:
                self.sel.register(wake, selectors.EVENT_READ, None)
            self._wake = wake
        return wake

    @property
    def _stopping(self) -> bool:
        return bool(self.result.failures) or self.result.interrupted

    @property
    def _waiting(self) -> bool:
        return bool(self.delayed or self.held or self.ready)

    def _timeout(self, wake: int | None) -> float:
        if wake is None or not self.launcher.flush():
            return 0.005 if wake is not None else 0.05
        now = time.monotonic()
        times = [live.deadline for live in self.live.values() if live.deadline is not None]
        if self.delayed:
            times.append(self.delayed[0][0])
        return max(0.0, min([now + 1.0, *times]) - now)

    # -- launching --------------------------------------------------------------

    def _fill(self) -> None:
        while not self._stopping and len(self.live) + self.launching < self.max_workers:
            spec = self._next_spec()
            if spec is None:
                return
            admitted = self.policy.admit(spec)
            if admitted is None:
                self.held = spec  # head of the line: wait until resources free up
                return
            self._launch(admitted)
            for follower in self.gangs.followers(admitted):  # a gang starts all at once
                self._launch(follower)

    def _launch(self, spec: TaskSpec) -> None:
        self.launcher.launch(spec)
        self.launching += 1
        self.recorder.started(spec)
        self.output.task_started(spec)

    def _next_spec(self) -> TaskSpec | None:
        if self.held is not None:
            spec, self.held = self.held, None
            return spec
        if self.delayed and self.delayed[0][0] <= time.monotonic():
            return heapq.heappop(self.delayed)[2]
        while self.ready:
            try:
                pending = next(self.ready[0])
            except StopIteration:
                self.ready.popleft()
                continue
            if pending.step in self.gangs.steps:
                gang = self._gang(pending)
                if gang is None:
                    continue
                return gang
            spec = self.make_spec(pending)
            cloned = self.clone(pending, spec) if self.clone else None
            if cloned is None:
                return spec
            self.result.tasks_cloned += 1
            self.recorder.cloned(spec, cloned)
            self.output.task_cloned(spec)
            self._advance(spec, cloned)
            if self.result.tasks_cloned % 256 == 0:
                self._keep_alive()  # a resume may clone for minutes before it runs a task
        return None

    def _gang(self, first: Pending) -> TaskSpec | None:
        """All the tasks of a @parallel gang (consecutive in the scheduler's answer): its
        control task to launch, or None when a resume reused the whole gang."""
        rest = list(itertools.islice(self.ready[0], first.frames[-1].count - 1))
        pendings = [first, *rest]
        specs = [self.make_spec(p) for p in pendings]
        reused = self.clone(pendings[0], specs[0]) if self.clone is not None else None
        if reused is not None and self.clone is not None:
            # The origin run's gang succeeded as a whole (the plan reuses whole gangs only).
            clones: list[tuple[TaskSpec, AttemptRecord | None]] = [(specs[0], reused)] + [
                (s, self.clone(p, s)) for p, s in zip(pendings[1:], specs[1:], strict=True)
            ]
            for spec, cloned in clones:
                if cloned is None:
                    raise RuntimeError(f"resume reused part of the gang of {spec.step}")
                self.result.tasks_cloned += 1
                self.recorder.cloned(spec, cloned)
                self.output.task_cloned(spec)
                self._advance(spec, cloned)
            return None
        note = self.gangs.past_limit(specs, self.max_workers)
        if note:
            self.output.notice(note)
        return self.gangs.form(specs)

    def _started(self, worker: Worker) -> None:
        self.launching -= 1
        now = time.monotonic()
        self.live[worker.pid] = _Live(
            worker,
            now,
            self.policy.deadline(worker.spec, now, startup=self.launcher.allowance(worker)),
        )
        self.pipes.add(worker.pid, worker.spec, worker.stdout, worker.stderr)

    def _lines(self, spec: TaskSpec, stream: str, lines: list[bytes], newline: bool) -> None:
        self.output.task_lines(spec, stream, lines)
        self.recorder.log(spec, stream, b"\n".join(lines) + (b"\n" if newline else b""))

    # -- finishing --------------------------------------------------------------

    def _reap(self) -> None:
        for event in self.launcher.events():
            if isinstance(event, Exited):
                self.exited[event.pid] = event.code
                if event.lost:
                    self.lost.add(event.pid)
            elif isinstance(event, Notice):
                self.output.notice(event.text)
            elif isinstance(event, NotStarted):
                self._not_started(event)
            else:
                self._started(event)
        for pid in [p for p in self.exited if p in self.live]:
            if self.pipes.is_open(pid):
                self.pipes.drain(pid)
                if self.pipes.is_open(pid):
                    continue
            self.pipes.forget(pid)
            self._finish(self.live.pop(pid), self.exited.pop(pid))

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for live in self.live.values():
            if live.deadline is not None and now >= live.deadline and not live.timed_out:
                live.timed_out = True
                self.launcher.kill(live.worker)

    def _finish(self, live: _Live, code: int) -> None:
        spec = live.worker.spec
        self.policy.release(spec)
        for path in live.worker.cleanup:
            with contextlib.suppress(OSError):
                os.unlink(path)
        record = self.read_record(spec)
        self.result.tasks_run += 1
        self.lost.discard(live.worker.pid)
        if record is not None and record.status == "ok":
            # The record is the truth: a task killed after it committed (a lost task's
            # -9, or a kill while its @card pages rendered, after the record) succeeded.
            self.recorder.finished(spec, record, 0)
            self.output.task_finished(spec, ok=True)
            if "parallel" in spec.extra:
                self._gang_ended(spec, record, code, None, ok=True)
                return
            self._advance(spec, record)
            return
        exception = record.exception if record is not None else died_exception(code)
        if live.timed_out and (exception is None or exception.get("type") != TIMEOUT_TYPE):
            # The task did not stop at its own alarm (stuck in C code): it was killed.
            exception = timeout_exception(spec, self.policy.of(spec.step).timeout or 0)
            self._lines(spec, "stderr", [exception["text"].encode()], True)
        elif record is None:  # the task's own log says how it ended (SIGSEGV, SIGKILL...)
            self._lines(spec, "stderr", [died_exception(code)["message"].encode()], True)
        self._failed(spec, record, code, exception)

    def _not_started(self, event: NotStarted) -> None:
        """A task whose process could not start: a failed attempt, like one that died."""
        self.launching -= 1
        self.policy.release(event.spec)
        self.result.tasks_run += 1
        self._lines(event.spec, "stderr", [event.reason.encode()], True)
        self._failed(event.spec, None, -1, {"type": "WorkerDied", "message": event.reason})

    def _failed(
        self,
        spec: TaskSpec,
        record: AttemptRecord | None,
        code: int,
        exception: dict[str, Any] | None,
    ) -> None:
        """Record a failed attempt; retry it, run its @catch fallback, or fail the run."""
        if "parallel" in spec.extra:
            self._gang_ended(spec, record, code, exception, ok=False)
            return
        self.recorder.finished(spec, record, code, exception=exception)
        decision = self.policy.after_failure(spec, exception)
        if isinstance(decision, (Retry, Fallback)) and not self.result.interrupted:
            at = decision.at if isinstance(decision, Retry) else 0.0
            heapq.heappush(self.delayed, (at, next(self._order), decision.spec))
            self.output.task_finished(spec, ok=False, retrying=True)
            if isinstance(decision, Retry) and decision.at > time.monotonic() + 1:
                self.output.notice(
                    f"[{spec.run_id}/{spec.step}/{spec.task_id}] retrying in "
                    f"{decision.at - time.monotonic():.0f}s (attempt {decision.spec.attempt})"
                )
            return
        self.output.task_finished(spec, ok=False)
        self.result.failures.append(Failure(spec, code, record, exception))

    def _gang_ended(
        self,
        spec: TaskSpec,
        record: AttemptRecord | None,
        code: int,
        exception: dict[str, Any] | None,
        *,
        ok: bool,
    ) -> None:
        """A task of a @parallel gang ended; the gang goes on once all its tasks have."""
        stop, exception, settled = self.gangs.finished(spec, record, code, exception, ok=ok)
        for live in list(self.live.values()):
            if live.worker.spec.task_id in stop:
                self.launcher.kill(live.worker)
        if not ok:
            if exception and exception.get("type") == "GangMemberFailed":
                self._lines(spec, "stderr", [exception["text"].encode()], True)
            self.recorder.finished(spec, record, code, exception=exception)
        if settled is not None:
            self._gang_settled(settled)

    def _gang_settled(self, settled: Settled) -> None:
        if settled.first_failure is None:
            for spec, done in settled.succeeded:
                self._advance(spec, done)
            return
        leader = settled.members[0]
        failed, record, code, exception = settled.first_failure
        decision = self.policy.after_failure(leader, exception)
        retrying = isinstance(decision, (Retry, Fallback)) and not self.result.interrupted
        for spec in settled.failed:
            self.output.task_finished(spec, ok=False, retrying=retrying)
        if retrying:
            assert isinstance(decision, (Retry, Fallback))
            self.gangs.again(settled, decision.spec)
            at = decision.at if isinstance(decision, Retry) else 0.0
            heapq.heappush(self.delayed, (at, next(self._order), decision.spec))
            return
        self.result.failures.append(Failure(failed, code, record, exception))

    def _advance(self, spec: TaskSpec, record: AttemptRecord) -> None:
        self.result.steps_done.add(spec.step)
        foreach = record.extra.get("foreach") or {}
        if foreach.get("count"):
            child = self.scheduler.graph[spec.step].out_funcs[0]
            self.output.expect(child, int(foreach["count"]))
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
                    self.pipes.read(key.fd, key.data)
            self._reap()
