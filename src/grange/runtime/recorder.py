"""Recording a run as it goes: metadata rows in batches, task logs as they stream.

Workers never touch the metadata database in a local run: the runtime reads
each finished attempt's record from the datastore and indexes it here, in
batched transactions, so thousands of tasks cost a handful of commits.
"""

from __future__ import annotations

import time
from typing import Any

from grange.datastore import AttemptRecord, BlobStore, LogSink, log_key
from grange.datastore.logs import close_all
from grange.metastore import ArtifactRow, AttemptRow, MetadataStore, TaskRow
from grange.metastore import AttemptRecord as AttemptResult
from grange.runtime.attempts import died_exception
from grange.task.spec import TaskSpec


class Recorder:
    """Buffers metadata writes of one run and appends task logs."""

    def __init__(
        self,
        metadata: MetadataStore,
        blobs: BlobStore,
        flow: str,
        run_id: str,
        *,
        batch: int = 500,
        every: float = 0.25,
    ) -> None:
        self.metadata = metadata
        self.blobs = blobs
        self.flow = flow
        self.run_id = run_id
        self.batch = batch
        self.every = every
        self._tasks: list[TaskRow] = []
        self._started: list[AttemptRow] = []
        self._finished: list[AttemptResult] = []
        self._last_flush = time.monotonic()
        self._logs: dict[tuple[str, int, str], LogSink] = {}
        # Logs of attempts that ended, closed together at the next flush: on S3 a close
        # uploads the whole log, and many at once are one concurrent batch.
        self._closing: list[LogSink] = []

    # -- events -------------------------------------------------------------------

    def started(self, spec: TaskSpec) -> None:
        now = time.time()
        if spec.attempt == 0:
            self._tasks.append(self._task_row(spec, now))
        self._started.append(
            AttemptRow(
                self.flow,
                self.run_id,
                spec.step,
                spec.task_id,
                spec.attempt,
                started_at=now,
                heartbeat_at=now,
            )
        )

    def cloned(self, spec: TaskSpec, record: AttemptRecord) -> None:
        self._tasks.append(self._task_row(spec, time.time(), origin=record.extra.get("origin")))
        self._add_finished(spec, record, 0)

    def finished(
        self,
        spec: TaskSpec,
        record: AttemptRecord | None,
        exit_code: int,
        *,
        exception: dict[str, Any] | None = None,
    ) -> None:
        """An attempt ended; ``exception`` overrides what it recorded (a timeout)."""
        self._add_finished(spec, record, exit_code, exception)
        for stream in ("stdout", "stderr"):
            sink = self._logs.pop((spec.task_id, spec.attempt, stream), None)
            if sink is not None:
                self._closing.append(sink)

    def log(self, spec: TaskSpec, stream: str, data: bytes) -> None:
        key = (spec.task_id, spec.attempt, stream)
        sink = self._logs.get(key)
        if sink is None:
            sink = self._logs[key] = LogSink(
                self.blobs,
                log_key(self.flow, self.run_id, spec.step, spec.task_id, spec.attempt, stream),
            )
        sink.write(data)

    def heartbeat(self) -> None:
        self.metadata.heartbeat_run(self.flow, self.run_id)

    # -- batching -------------------------------------------------------------------

    def flush(self, *, force: bool) -> None:
        pending = len(self._tasks) + len(self._started) + len(self._finished) + len(self._closing)
        if not pending:
            return
        if not force and pending < self.batch and time.monotonic() - self._last_flush < self.every:
            return
        if self._closing:  # before the index says the attempts ended: their logs are whole
            closing, self._closing = self._closing, []
            close_all(closing)
        if self._tasks:
            self.metadata.register_tasks(self._tasks, keep_existing=True)
        if self._started:
            self.metadata.start_attempts(self._started)
        if self._finished:
            self.metadata.record_attempts(self._finished)
        self._tasks, self._started, self._finished = [], [], []
        self._last_flush = time.monotonic()

    def _task_row(self, spec: TaskSpec, now: float, origin: str | None = None) -> TaskRow:
        return TaskRow(
            self.flow,
            self.run_id,
            spec.step,
            spec.task_id,
            created_at=now,
            foreach_stack=[f.to_list() for f in spec.frames],
            parent_task_ids=[
                f"{self.flow}/{p}" if p.count("/") == 2 else f"{self.flow}/{self.run_id}/{p}"
                for p in spec.input_paths
            ],
            origin_task=origin,
        )

    def _add_finished(
        self,
        spec: TaskSpec,
        record: AttemptRecord | None,
        exit_code: int,
        override: dict[str, Any] | None = None,
    ) -> None:
        now = time.time()
        if record is None:
            status = "failed"
            exception: dict[str, Any] | None = override or died_exception(exit_code)
            artifacts: list[ArtifactRow] = []
            started, ended = now, now
        else:
            status = record.status if exit_code == 0 or record.status != "ok" else "failed"
            if status == "ok" and record.extra.get("caught"):
                status = "caught"  # the @catch fallback: the task went on after failing
            exception = override or record.exception
            started, ended = record.started_at, record.finished_at
            artifacts = [
                ArtifactRow(name, ref.key, ref.size, ref.type, ref.encoding)
                for name, ref in record.artifacts.items()
            ]
        row = AttemptRow(
            self.flow,
            self.run_id,
            spec.step,
            spec.task_id,
            spec.attempt,
            started_at=started,
            finished_at=ended,
            status=status,
            exit_code=exit_code,
            exception=exception,
        )
        self._finished.append(AttemptResult(row, artifacts))
