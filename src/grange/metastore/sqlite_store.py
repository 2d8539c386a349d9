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

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from grange.metastore import locked
from grange.metastore.sqlite_errors import read_only_error, storage_error, writable
from grange.metastore.sqlite_file import connect, is_empty, read_schema_version, tune
from grange.metastore.status import DEFAULT_STALE_AFTER
from grange.metastore.store import MetadataStore
from grange.metastore.versions import SCHEMA_VERSION, refuse_newer

_inherited: list[sqlite3.Connection] = []  # a forked child's copies of its parent's


class SqliteStore(MetadataStore):
    """A :class:`MetadataStore` on the SQLite file ``path``, at the current schema."""

    def __init__(
        self,
        path: Path,
        *,
        stale_after: float = DEFAULT_STALE_AFTER,
        clock: Callable[[], float] = time.time,
        readonly: bool = False,
    ) -> None:
        super().__init__(stale_after=stale_after, clock=clock)
        self.path = Path(path)
        self.readonly = readonly
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use (and again after a fork)."""
        pid = os.getpid()
        held: tuple[int, sqlite3.Connection] | None = getattr(self._local, "held", None)
        if held is not None and held[0] == pid:
            return held[1]
        if held is not None:
            _inherited.append(held[1])
        try:
            connection = connect(self.path, readonly=self.readonly)
            tune(connection, readonly=self.readonly)
            connection.execute(f"PRAGMA busy_timeout = {locked.NOTICE_AFTER_MS}")  # then: locked.py
        except sqlite3.DatabaseError as err:
            raise storage_error(err, self.path, doing="open") from None
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
        """One transaction; SQLite's own errors (a full disk, a read-only file, a
        damaged one) become the :class:`~grange.exceptions.GrangeError` that says so."""
        doing = "read" if begin == "BEGIN" else "write to"
        connection = self._connection()
        try:
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
        except sqlite3.DatabaseError as err:
            if connection.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
            raise storage_error(err, self.path, doing=doing) from None


def open_sqlite(
    path: Path, *, stale_after: float = DEFAULT_STALE_AFTER, clock: Callable[[], float] = time.time
) -> SqliteStore | None:
    """The SQLite file at ``path``, created with sqlite3 if new and opened with it
    at the current version; ``None`` for an older one (SQLAlchemy migrates it).
    A file that cannot be written here is opened read-only, as it is."""
    from grange.metastore.sqlite_schema import create_new

    if path.is_file() and not writable(path):
        version = read_schema_version(path, readonly=True)
        refuse_newer(version)
        if version != SCHEMA_VERSION:
            raise read_only_error(path, f"migrate (schema version {version}) the index")
        return SqliteStore(path, stale_after=stale_after, clock=clock, readonly=True)
    if not path.exists():
        create_new(path)
    if path.is_file():
        version = read_schema_version(path)
        if version == 0:  # just made by another process's connect: (wait and) look again
            if is_empty(path):
                create_new(path)
            version = read_schema_version(path)
        refuse_newer(version)
        if version == SCHEMA_VERSION:
            return SqliteStore(path, stale_after=stale_after, clock=clock)
    return None
