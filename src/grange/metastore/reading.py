"""The read methods of :class:`~grange.metastore.store.MetadataStore`, each one transaction.

Reads report statuses as described in :mod:`grange.metastore.status`: a run
stored as running whose runtime process is gone (on its host) or whose
heartbeat is older than ``stale_after`` seconds (elsewhere) reads as
``crashed``, and so do its running tasks and attempts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from grange.metastore import restore, runs, tasks
from grange.metastore.dbapi import Sql
from grange.metastore.retry import retrying
from grange.metastore.rows import (
    ArtifactRow,
    AttemptRow,
    FlowRow,
    MetadataRow,
    RunRow,
    RunTags,
    StepRow,
    TaskKey,
    TaskRef,
    TaskRow,
)
from grange.metastore.status import RUNNING


class RunReading:
    """Flows, runs, steps, tasks, attempts, artifacts and metadata, as the index has them."""

    stale_after: float
    _clock: Callable[[], float]

    def _read(self) -> AbstractContextManager[Sql]:
        raise NotImplementedError

    def _run_status(self, c: Sql, flow: str, run_id: str, now: float) -> str:
        """The reported status of a run, for its tasks' and attempts' statuses."""
        status = runs.run_status(c, flow, run_id, now=now, stale_after=self.stale_after)
        return status or RUNNING

    @retrying
    def run_ids(self, flow: str) -> set[str]:
        """Every run id of ``flow`` in the index, whatever its status."""
        with self._read() as c:
            return restore.run_ids(c, flow)

    @retrying
    def list_flows(self, *, tags: Sequence[str] = ()) -> list[FlowRow]:
        """Flows by name; with ``tags``, those with a run carrying all of them."""
        with self._read() as c:
            return runs.list_flows(c, tuple(tags))

    @retrying
    def get_flow(self, flow: str) -> FlowRow | None:
        with self._read() as c:
            return runs.get_flow(c, flow)

    @retrying
    def list_runs(
        self,
        flow: str,
        *,
        tags: Sequence[str] = (),
        limit: int | None = None,
        status: str | None = None,
    ) -> list[RunRow]:
        """Runs of ``flow`` newest first, with every tag in ``tags`` and the given status."""
        with self._read() as c:
            return runs.list_runs(
                c,
                flow,
                tags=tuple(tags),
                status=status,
                limit=limit,
                now=self._clock(),
                stale_after=self.stale_after,
            )

    @retrying
    def get_run(self, flow: str, run_id: str) -> RunRow | None:
        with self._read() as c:
            return runs.get_run(c, flow, run_id, now=self._clock(), stale_after=self.stale_after)

    @retrying
    def run_tags(self, flow: str, run_id: str) -> RunTags:
        with self._read() as c:
            runs.require_run(c, flow, run_id)
            return runs.read_tags(c, flow, [run_id])[run_id]

    @retrying
    def list_steps(self, flow: str, run_id: str) -> list[StepRow]:
        with self._read() as c:
            return tasks.list_steps(c, flow, run_id)

    @retrying
    def list_tasks(self, flow: str, run_id: str, *, step: str | None = None) -> list[TaskRow]:
        """Tasks of a run, or of one of its steps, in registration order."""
        with self._read() as c:
            status = self._run_status(c, flow, run_id, self._clock())
            return tasks.list_tasks(c, flow, run_id, step=step, run_status=status)

    @retrying
    def get_task(self, flow: str, run_id: str, *, step: str, task_id: str) -> TaskRow | None:
        ref = TaskKey(flow, run_id, step, task_id)
        with self._read() as c:
            status = self._run_status(c, flow, run_id, self._clock())
            return tasks.get_task(c, ref, run_status=status)

    @retrying
    def list_attempts(self, task: TaskRef) -> list[AttemptRow]:
        """Every attempt of ``task``, oldest first."""
        with self._read() as c:
            status = self._run_status(c, task.flow, task.run_id, self._clock())
            return tasks.list_attempts(c, task, run_status=status)

    @retrying
    def latest_attempt(self, task: TaskRef) -> AttemptRow | None:
        """The attempt with the highest number, running or ended; None before any."""
        with self._read() as c:
            status = self._run_status(c, task.flow, task.run_id, self._clock())
            return tasks.latest_attempt(c, task, run_status=status)

    @retrying
    def artifacts(
        self, flow: str, run_id: str, *, step: str, task_id: str, attempt: int
    ) -> list[ArtifactRow]:
        """The artifacts one attempt recorded, by name."""
        with self._read() as c:
            return tasks.read_artifacts(c, TaskKey(flow, run_id, step, task_id), attempt)

    @retrying
    def task_metadata(
        self, flow: str, run_id: str, *, step: str, task_id: str, attempt: int | None = None
    ) -> list[MetadataRow]:
        """Metadata values of a task (of one attempt, if given)."""
        with self._read() as c:
            return tasks.read_metadata(c, TaskKey(flow, run_id, step, task_id), attempt)
