"""The store on the stdlib ``sqlite3``: an existing local store without SQLAlchemy.

Importing SQLAlchemy costs ~0.2 s per process (and more at exit), most of a
``python flow.py run`` of a small flow or of one client read. So
:meth:`MetadataStore.from_url <grange.metastore.store.MetadataStore.from_url>`
opens a SQLite file that already holds the current schema with this class,
which runs the same statements (:mod:`~grange.metastore.runs`,
:mod:`~grange.metastore.tasks`) on plain ``sqlite3`` connections tuned like
the engine's (:mod:`~grange.metastore.sqlite_file`): WAL, ``busy_timeout``,
``BEGIN IMMEDIATE`` for writes and ``BEGIN`` for reads; a lock held by another
process for long is announced, then named (:mod:`~grange.metastore.locked`).
A new file is created
by :mod:`~grange.metastore.sqlite_schema`; migrating an older one stays with
SQLAlchemy.

Connections: one per thread per process. After ``os.fork()`` the child never
uses (nor closes) the connection it inherited: it sees a different pid, keeps
the old object alive and opens its own.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from grange.metastore import locked
from grange.metastore.sqlite_file import tune
from grange.metastore.status import DEFAULT_STALE_AFTER
from grange.metastore.store import MetadataStore

_inherited: list[sqlite3.Connection] = []  # a forked child's copies of its parent's


class SqliteStore(MetadataStore):
    """A :class:`MetadataStore` on the SQLite file ``path``, at the current schema."""

    def __init__(
        self,
        path: Path,
        *,
        stale_after: float = DEFAULT_STALE_AFTER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(stale_after=stale_after, clock=clock)
        self.path = Path(path)
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use (and again after a fork)."""
        pid = os.getpid()
        held: tuple[int, sqlite3.Connection] | None = getattr(self._local, "held", None)
        if held is not None and held[0] == pid:
            return held[1]
        if held is not None:
            _inherited.append(held[1])
        connection = sqlite3.connect(self.path, check_same_thread=False)
        tune(connection)
        connection.execute(f"PRAGMA busy_timeout = {locked.NOTICE_AFTER_MS}")  # then: locked.py
        self._local.held = (pid, connection)
        return connection

    def close(self) -> None:
        """Close this thread's connection (the next call opens a new one)."""
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None and held[0] == os.getpid():
            held[1].close()

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._transaction("BEGIN IMMEDIATE")

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._transaction("BEGIN")

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        connection = self._connection()
        try:
            connection.execute(begin)
        except sqlite3.OperationalError as err:
            if not locked.is_locked(err):
                raise
            locked.wait_for_lock(
                self.path, lambda: connection.execute(begin), waited=locked.NOTICE_AFTER_S
            )
        try:
            yield connection
        except BaseException as err:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if isinstance(err, sqlite3.OperationalError) and locked.is_locked(err):
                raise locked.locked_error(self.path, locked.NOTICE_AFTER_S) from err
            raise
        connection.execute("COMMIT")
