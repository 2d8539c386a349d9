"""Database engines: one per URL per process, tuned per backend, safe after fork.

SQLite (the default) is opened in WAL mode with ``synchronous=NORMAL`` (readers
never block the writer and a commit does not wait for an fsync of the whole
database) and a ``busy_timeout``, so the runtime and many worker processes
can share one file; a lock held elsewhere for long is announced, then named
(:mod:`grange.metastore.locked`). Write transactions start with
``BEGIN IMMEDIATE``: they take the write lock up front, where SQLite's busy
handler waits for it, instead of failing when a reader later tries to write.
Read transactions start with a plain ``BEGIN`` and see one snapshot.

PostgreSQL URLs (``postgresql://``, ``postgres://``) are sent to the psycopg 3
driver, installed with ``pip install 'grange[postgres]'``; their pool is set
from the URL and the environment (:mod:`grange.metastore.pool`).

Fork safety: the local runtime forks workers from a warm process. A child must
never use a connection it inherited (two processes on one socket or one SQLite
handle corrupt each other's state), so a process that finds it is not the one
that made the engines (its pid changed) replaces every engine's pool with
``dispose(close=False)`` before it uses any: the parent's connections stay
open for the parent (the child keeps a reference to them so that they are
never closed from the child either) and the child opens its own on first
use. The check runs on every transaction, not in an ``os.register_at_fork``
hook, because grange's fork server forks tasks without running those hooks
(see :mod:`grange.runtime.zygote`).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from grange.exceptions import MetadataError
from grange.metastore import locked
from grange.metastore.pool import PoolSettings, pool_settings
from grange.metastore.sqlite_file import BUSY_TIMEOUT_MS, SQLITE_FILE, sqlite_url, tune
from grange.metastore.urls import mask_url

__all__ = [
    "BUSY_TIMEOUT_MS",
    "SQLITE_FILE",
    "dispose_all",
    "get_engine",
    "given_url",
    "normalize_url",
    "pool_of",
    "read_transaction",
    "shown_url",
    "sqlite_url",
    "write_transaction",
]

_WRITE = "grange_write"

_engines: dict[str, Engine] = {}
_inherited: list[object] = []  # pools a forked child must neither use nor close
_lock = threading.Lock()
_pid = os.getpid()  # the process the engines' pools belong to
_adopt_locks: dict[int, threading.Lock] = {}
_given: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()  # URLs as typed
_pools: weakref.WeakKeyDictionary[Engine, PoolSettings] = weakref.WeakKeyDictionary()


def normalize_url(url: str) -> str:
    """``url`` with PostgreSQL URLs pointed at the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def get_engine(url: str) -> Engine:
    """This process's engine for ``url``, created on first use."""
    given, url = url, normalize_url(url)
    _adopt_after_fork()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create_engine(url, given)
            _given[engine] = given
            _engines[url] = engine
        return engine


def shown_url(engine: Engine) -> str:
    """The URL the engine was opened with, as the user wrote it, password masked."""
    given = _given.get(engine)
    return mask_url(given) if given else engine.url.render_as_string(hide_password=True)


def given_url(engine: Engine) -> str:
    """The URL the engine was opened with, as the user wrote it (password included)."""
    return _given.get(engine) or engine.url.render_as_string(hide_password=False)


def pool_of(engine: Engine) -> PoolSettings | None:
    """The pool settings of a PostgreSQL engine (None for SQLite)."""
    return _pools.get(engine)


def _create_engine(url: str, given: str) -> Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise MetadataError(
            f"{mask_url(given)!r} is not a database URL",
            fix="use 'local' (the default), sqlite:///path/metadata.db or "
            "postgresql://user@host:port/db",
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})
        _tune_sqlite(engine)
        return engine
    if backend == "postgresql":
        clean, pool = pool_settings(parsed, os.environ, shown=mask_url(given))
        try:
            engine = sa.create_engine(clean, **pool.engine_options())
        except ModuleNotFoundError as err:
            raise MetadataError(
                f"cannot use the metadata database {mask_url(given)}: the PostgreSQL driver "
                f"is not installed ({err.name})",
                fix="pip install 'grange[postgres]' (or pip install 'psycopg[binary]')",
            ) from None
        _pools[engine] = pool  # grange db status shows it
        return engine
    raise MetadataError(
        f"unsupported metadata database {mask_url(given)!r}",
        fix="use 'local', a sqlite:/// or a postgresql:// URL",
    )


def _tune_sqlite(engine: Engine) -> None:
    path = engine.url.database or ":memory:"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the driver, open transactions.
        tune(dbapi_connection)
        # Wait silently this long for a lock, then say so (grange.metastore.locked).
        dbapi_connection.execute(f"PRAGMA busy_timeout = {locked.NOTICE_AFTER_MS}")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        begin = "BEGIN IMMEDIATE" if write else "BEGIN"
        try:
            connection.exec_driver_sql(begin)
        except sa.exc.OperationalError as err:
            if not locked.is_locked(err):
                raise
            locked.wait_for_lock(
                path, lambda: connection.exec_driver_sql(begin), waited=locked.NOTICE_AFTER_S
            )


@contextmanager
def _named_lock(engine: Engine) -> Iterator[None]:
    """A statement refused by a lock held elsewhere: name the file and the holder."""
    try:
        yield
    except sa.exc.OperationalError as err:
        if engine.dialect.name == "sqlite" and locked.is_locked(err):
            path = engine.url.database or ":memory:"
            raise locked.locked_error(path, locked.NOTICE_AFTER_S) from err
        raise


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that may write; commits on success."""
    _adopt_after_fork()
    with _named_lock(engine), engine.connect() as connection:
        connection.execution_options(**{_WRITE: True})
        with connection.begin():
            yield connection


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a read-only transaction (one consistent snapshot)."""
    _adopt_after_fork()
    with _named_lock(engine), engine.connect() as connection, connection.begin():
        yield connection


def _adopt_after_fork() -> None:
    """In a forked child, the first time: fresh pools for every inherited engine."""
    global _lock, _pid
    pid = os.getpid()
    if _pid == pid:
        return
    # A lock of this process's own (setdefault is atomic): the module lock may
    # have been held by a thread that the fork did not copy.
    with _adopt_locks.setdefault(pid, threading.Lock()):
        if _pid == pid:
            return  # another thread of this child did it
        _lock = threading.Lock()
        for engine in _engines.values():
            # Keep the inherited pool alive: letting it be collected would close
            # the parent's SQLite handles or sockets from the child.
            _inherited.append(engine.pool)
            engine.dispose(close=False)
        _pid = pid  # last: other threads wait on the lock until the pools are new


def dispose_all() -> None:
    """Close every engine of this process (tests, and processes about to exit)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
