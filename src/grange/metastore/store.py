"""``MetadataStore``: the one object the runtime, the task and the client talk to.

Each public method runs in exactly one transaction. Writes come in batches
(``register_tasks``, ``start_attempts``, ``record_attempts``,
``heartbeat_attempts``) so that a 10,000-way foreach costs a few dozen
transactions, not tens of thousands; ``record_attempts`` makes an attempt's
end, its artifacts and its metadata visible together.

The reads live in :mod:`grange.metastore.reading`, the tag changes in
:mod:`grange.metastore.tagging`. Every public method is retried as a whole
when PostgreSQL aborts its transaction under load (a deadlock, a
serialization failure; :mod:`grange.metastore.retry`).

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
from grange.metastore.reading import RunReading
from grange.metastore.retry import retrying
from grange.metastore.rows import (
    AttemptRecord,
    AttemptRef,
    AttemptRow,
    RunRow,
    TaskRow,
)
from grange.metastore.sqlite_errors import storage_error
from grange.metastore.sqlite_file import sqlite_path, sqlite_url
from grange.metastore.status import DEFAULT_STALE_AFTER, check_final_run_status
from grange.metastore.tagging import RunTagging

__all__ = ["MetadataStore", "sqlite_url"]

_CUSTOM_RUN_ID = re.compile(r"^(?!\d+$)[A-Za-z0-9][A-Za-z0-9_.:-]*$")


class MetadataStore(RunTagging, RunReading):
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

    # -- flows and runs: writes -------------------------------------------

    @retrying
    def ensure_flow(self, flow: str) -> None:
        """Register ``flow`` unless it is known already."""
        with self._write() as c:
            runs.ensure_flow(c, flow, now=self._clock())

    @retrying
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

    @retrying
    def restore_run(self, run: RunRow, *, process: RuntimeProcess | None = None) -> bool:
        """Insert a run rebuilt from the datastore's records (its id, status, times and
        tags as given) unless the index knows its id; returns whether it was inserted.
        The flow's counter moves past it, so a new run never takes its id."""
        with self._write() as c:
            return restore.restore_run(c, run, process)

    @retrying
    def discard_run(self, flow: str, run_id: str) -> None:
        """Delete a run that :meth:`new_run` created but that never registered a task
        (its id turned out to be taken in the datastore)."""
        with self._write() as c:
            restore.discard_run(c, flow, run_id)

    @retrying
    def heartbeat_run(self, flow: str, run_id: str) -> None:
        """Record that the run's runtime is alive (ignored once it has finished)."""
        with self._write() as c:
            values = {"heartbeat_at": self._clock()}
            if not runs.update_run(c, flow, run_id, values=values, only_running=True):
                runs.require_run(c, flow, run_id)

    @retrying
    def finish_run(self, flow: str, run_id: str, *, status: str, at: float | None = None) -> None:
        """End a run as ``succeeded`` or ``failed`` (``at``: when, else now)."""
        check_final_run_status(status)
        now = self._clock() if at is None else at
        with self._write() as c:
            values = {"status": status, "finished_at": now, "heartbeat_at": now}
            if not runs.update_run(c, flow, run_id, values=values):
                runs.require_run(c, flow, run_id)

    # -- tasks and attempts: batch writes ------------------------------------

    @retrying
    def register_tasks(self, rows: Sequence[TaskRow], *, keep_existing: bool = False) -> None:
        """Insert tasks (and their steps) in one transaction; with ``keep_existing`` a
        task indexed already (by a rebuild from the records) is kept, not an error."""
        with self._write() as c:
            tasks.register_tasks(c, rows, now=self._clock(), keep_existing=keep_existing)

    @retrying
    def start_attempts(self, rows: Sequence[AttemptRow]) -> None:
        """Mark attempts as started (``started_at`` defaults to now), in one transaction."""
        with self._write() as c:
            tasks.start_attempts(c, rows, now=self._clock())

    @retrying
    def heartbeat_attempts(self, refs: Sequence[AttemptRef]) -> None:
        """Set the heartbeat of running attempts to now, in one transaction.

        Readers show it; statuses follow the run's heartbeat (``heartbeat_run``).
        """
        with self._write() as c:
            tasks.heartbeat_attempts(c, refs, now=self._clock())

    @retrying
    def record_attempts(self, records: Sequence[AttemptRecord]) -> None:
        """Record ended attempts with their artifacts and metadata, in ONE transaction.

        An attempt already started is updated (its ``started_at`` is kept);
        recording the same attempt twice is harmless. Each task's status
        becomes its latest attempt's.
        """
        with self._write() as c:
            tasks.record_attempts(c, records, now=self._clock())
