"""``MetadataStore``: the one object the runtime, the task and the client talk to.

Each public method runs in exactly one transaction. Writes come in batches
(``register_tasks``, ``start_attempts``, ``record_attempts``,
``heartbeat_attempts``) so that a 10,000-way foreach costs a few dozen
transactions, not tens of thousands; ``record_attempts`` makes an attempt's
end, its artifacts and its metadata visible together.

Reads report statuses as described in :mod:`grange.metastore.status`: a run
stored as running whose runtime process is gone (on its host) or whose
heartbeat is older than ``stale_after`` seconds (elsewhere) reads as
``crashed``, and so do its running tasks and attempts.

Arguments after the first two are keyword-only.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from grange.exceptions import MetadataError
from grange.metastore import restore, runs, tasks
from grange.metastore.dbapi import Sql
from grange.metastore.liveness import RuntimeProcess, heartbeat_window
from grange.metastore.rows import (
    ArtifactRow,
    AttemptRecord,
    AttemptRef,
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
from grange.metastore.sqlite_errors import storage_error
from grange.metastore.sqlite_file import sqlite_path, sqlite_url
from grange.metastore.status import DEFAULT_STALE_AFTER, RUNNING, check_final_run_status
from grange.metastore.tagging import RunTagging

__all__ = ["MetadataStore", "sqlite_url"]

_CUSTOM_RUN_ID = re.compile(r"^(?!\d+$)[A-Za-z0-9][A-Za-z0-9_.:-]*$")


class MetadataStore(RunTagging):
    """The index of flows, runs, steps, tasks, attempts, artifacts and tags.

    Build it with :meth:`from_url`; ``stale_after`` is the heartbeat age (in
    seconds) after which a running run reads as crashed, and ``clock`` the
    source of "now" (``time.time``; tests pass their own).

    Two implementations share this API and its SQL text (the query modules
    :mod:`~grange.metastore.runs` and :mod:`~grange.metastore.tasks`): on
    SQLAlchemy (:class:`~grange.metastore.sql_store.SqlAlchemyStore`, every
    backend) and on the stdlib ``sqlite3`` (:class:`~grange.metastore.
    sqlite_store.SqliteStore`), which :meth:`from_url` picks for a SQLite file
    that is new or at the current schema version, so that a command never
    pays for importing SQLAlchemy (~0.2 s). A subclass provides the two
    transactions, each yielding a :class:`~grange.metastore.dbapi.Sql`.
    """

    def __init__(
        self,
        *,
        stale_after: float = DEFAULT_STALE_AFTER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.stale_after = stale_after
        self._clock = clock

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        stale_after: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> MetadataStore:
        """Open (creating or migrating as needed) the store at a database URL.

        ``sqlite:///path/metadata.db`` (see :func:`sqlite_url`) or
        ``postgresql://user:pass@host/db``. A new SQLite file is created, and
        one at the current schema version opened, with ``sqlite3``; anything
        else (an older schema, PostgreSQL) with SQLAlchemy, whose engine is
        shared by every store of this process on the same URL. ``stale_after``:
        ``GRANGE_HEARTBEAT_WINDOW`` (seconds), else ``DEFAULT_STALE_AFTER``.
        """
        if stale_after is None:
            stale_after = heartbeat_window(os.environ, DEFAULT_STALE_AFTER)
        path = sqlite_path(url)
        if path is not None:
            try:
                from grange.metastore.sqlite_store import open_sqlite

                store = open_sqlite(path, stale_after=stale_after, clock=clock)
            except (sqlite3.DatabaseError, OSError) as err:
                raise storage_error(err, path, doing="open") from None
            if store is not None:
                return store
        from grange.metastore.sql_store import SqlAlchemyStore

        return SqlAlchemyStore.open(url, stale_after=stale_after, clock=clock)

    @classmethod
    def at_root(cls, root: Path, **kwargs: Any) -> MetadataStore:
        """The SQLite store under a local datastore root."""
        return cls.from_url(sqlite_url(root), **kwargs)

    def close(self) -> None:
        """Close this thread's connection, if the store keeps one (SQLite's does)."""

    def _write(self) -> AbstractContextManager[Sql]:
        """A connection in a transaction that may write; commits on success."""
        raise NotImplementedError

    def _read(self) -> AbstractContextManager[Sql]:
        """A connection in a read-only transaction (one consistent snapshot)."""
        raise NotImplementedError

    def _run_status(self, c: Sql, flow: str, run_id: str, now: float) -> str:
        """The reported status of a run, for its tasks' and attempts' statuses."""
        status = runs.run_status(c, flow, run_id, now=now, stale_after=self.stale_after)
        return status or RUNNING

    # -- flows and runs: writes -------------------------------------------

    def ensure_flow(self, flow: str) -> None:
        """Register ``flow`` unless it is known already."""
        with self._write() as c:
            runs.ensure_flow(c, flow, now=self._clock())

    def new_run(
        self,
        flow: str,
        *,
        user: str,
        tags: Iterable[str] = (),
        system_tags: Iterable[str] = (),
        parameters: Mapping[str, Any] | None = None,
        origin_run_id: str | None = None,
        runtime: str = "local",
        run_id: str | None = None,
        process: RuntimeProcess | None = None,
        created_at: float | None = None,
    ) -> str:
        """Create a running run and return its id.

        The id is the next integer of the flow's counter, as text, unless a
        scheduler passes its own ``run_id`` (which must not be all digits, so
        it can never collide with an allocated one). ``system_tags`` should
        include ``user:<name>``, the namespace the run belongs to; ``process``
        is the runtime's (its host then sees at once when it is gone);
        ``created_at`` the creation time, when the caller records it elsewhere too.
        """
        if run_id is not None and not _CUSTOM_RUN_ID.match(run_id):
            raise MetadataError(
                f"invalid run id {run_id!r}",
                fix="a run id given by a scheduler must not be all digits and may use "
                "only letters, digits, '_', '.', ':' and '-'",
            )
        with self._write() as c:
            run_id = runs.create_run(
                c,
                flow,
                run_id=run_id,
                user=user,
                tags=tags,
                system_tags=system_tags,
                parameters=parameters or {},
                origin_run_id=origin_run_id,
                runtime=runtime,
                now=self._clock() if created_at is None else created_at,
            )
            if process is not None:
                runs.record_process(c, flow, run_id, process)
            return run_id

    def restore_run(self, run: RunRow, *, process: RuntimeProcess | None = None) -> bool:
        """Insert a run rebuilt from the datastore's records (its id, status, times and
        tags as given) unless the index knows its id; returns whether it was inserted.
        The flow's counter moves past it, so a new run never takes its id."""
        with self._write() as c:
            return restore.restore_run(c, run, process)

    def discard_run(self, flow: str, run_id: str) -> None:
        """Delete a run that :meth:`new_run` created but that never registered a task
        (its id turned out to be taken in the datastore)."""
        with self._write() as c:
            restore.discard_run(c, flow, run_id)

    def run_ids(self, flow: str) -> set[str]:
        """Every run id of ``flow`` in the index, whatever its status."""
        with self._read() as c:
            return restore.run_ids(c, flow)

    def heartbeat_run(self, flow: str, run_id: str) -> None:
        """Record that the run's runtime is alive (ignored once it has finished)."""
        with self._write() as c:
            values = {"heartbeat_at": self._clock()}
            if not runs.update_run(c, flow, run_id, values=values, only_running=True):
                runs.require_run(c, flow, run_id)

    def finish_run(self, flow: str, run_id: str, *, status: str, at: float | None = None) -> None:
        """End a run as ``succeeded`` or ``failed`` (``at``: when, else now)."""
        check_final_run_status(status)
        now = self._clock() if at is None else at
        with self._write() as c:
            values = {"status": status, "finished_at": now, "heartbeat_at": now}
            if not runs.update_run(c, flow, run_id, values=values):
                runs.require_run(c, flow, run_id)

    # -- tasks and attempts: batch writes ------------------------------------

    def register_tasks(self, rows: Sequence[TaskRow], *, keep_existing: bool = False) -> None:
        """Insert tasks (and their steps) in one transaction; with ``keep_existing`` a
        task indexed already (by a rebuild from the records) is kept, not an error."""
        with self._write() as c:
            tasks.register_tasks(c, rows, now=self._clock(), keep_existing=keep_existing)

    def start_attempts(self, rows: Sequence[AttemptRow]) -> None:
        """Mark attempts as started (``started_at`` defaults to now), in one transaction."""
        with self._write() as c:
            tasks.start_attempts(c, rows, now=self._clock())

    def heartbeat_attempts(self, refs: Sequence[AttemptRef]) -> None:
        """Set the heartbeat of running attempts to now, in one transaction.

        Readers show it; statuses follow the run's heartbeat (``heartbeat_run``).
        """
        with self._write() as c:
            tasks.heartbeat_attempts(c, refs, now=self._clock())

    def record_attempts(self, records: Sequence[AttemptRecord]) -> None:
        """Record ended attempts with their artifacts and metadata, in ONE transaction.

        An attempt already started is updated (its ``started_at`` is kept);
        recording the same attempt twice is harmless. Each task's status
        becomes its latest attempt's.
        """
        with self._write() as c:
            tasks.record_attempts(c, records, now=self._clock())

    # -- reads ---------------------------------------------------------------

    def list_flows(self, *, tags: Sequence[str] = ()) -> list[FlowRow]:
        """Flows by name; with ``tags``, those with a run carrying all of them."""
        with self._read() as c:
            return runs.list_flows(c, tuple(tags))

    def get_flow(self, flow: str) -> FlowRow | None:
        with self._read() as c:
            return runs.get_flow(c, flow)

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

    def get_run(self, flow: str, run_id: str) -> RunRow | None:
        with self._read() as c:
            return runs.get_run(c, flow, run_id, now=self._clock(), stale_after=self.stale_after)

    def run_tags(self, flow: str, run_id: str) -> RunTags:
        with self._read() as c:
            runs.require_run(c, flow, run_id)
            return runs.read_tags(c, flow, [run_id])[run_id]

    def list_steps(self, flow: str, run_id: str) -> list[StepRow]:
        with self._read() as c:
            return tasks.list_steps(c, flow, run_id)

    def list_tasks(self, flow: str, run_id: str, *, step: str | None = None) -> list[TaskRow]:
        """Tasks of a run, or of one of its steps, in registration order."""
        with self._read() as c:
            status = self._run_status(c, flow, run_id, self._clock())
            return tasks.list_tasks(c, flow, run_id, step=step, run_status=status)

    def get_task(self, flow: str, run_id: str, *, step: str, task_id: str) -> TaskRow | None:
        ref = TaskKey(flow, run_id, step, task_id)
        with self._read() as c:
            status = self._run_status(c, flow, run_id, self._clock())
            return tasks.get_task(c, ref, run_status=status)

    def list_attempts(self, task: TaskRef) -> list[AttemptRow]:
        """Every attempt of ``task``, oldest first."""
        with self._read() as c:
            status = self._run_status(c, task.flow, task.run_id, self._clock())
            return tasks.list_attempts(c, task, run_status=status)

    def latest_attempt(self, task: TaskRef) -> AttemptRow | None:
        """The attempt with the highest number, running or ended; None before any."""
        with self._read() as c:
            status = self._run_status(c, task.flow, task.run_id, self._clock())
            return tasks.latest_attempt(c, task, run_status=status)

    def artifacts(
        self, flow: str, run_id: str, *, step: str, task_id: str, attempt: int
    ) -> list[ArtifactRow]:
        """The artifacts one attempt recorded, by name."""
        with self._read() as c:
            return tasks.read_artifacts(c, TaskKey(flow, run_id, step, task_id), attempt)

    def task_metadata(
        self, flow: str, run_id: str, *, step: str, task_id: str, attempt: int | None = None
    ) -> list[MetadataRow]:
        """Metadata values of a task (of one attempt, if given)."""
        with self._read() as c:
            return tasks.read_metadata(c, TaskKey(flow, run_id, step, task_id), attempt)
