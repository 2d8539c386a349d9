"""The store on SQLAlchemy: every backend, and the only one that creates or migrates.

:meth:`MetadataStore.from_url <grange.metastore.store.MetadataStore.from_url>`
returns it for PostgreSQL, for a new SQLite file and for one at an older
schema version; importing this module imports SQLAlchemy.

The driver's errors on PostgreSQL become errors in the user's terms
(:mod:`grange.metastore.pg_errors`), and a transaction the server aborted
under load is run again (:mod:`grange.metastore.retry`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from grange.exceptions import MetadataError
from grange.metastore import pg_errors
from grange.metastore.dbapi import DriverSql
from grange.metastore.engine import (
    get_engine,
    given_url,
    read_transaction,
    shown_url,
    write_transaction,
)
from grange.metastore.migrations import auto_upgrade, migrate
from grange.metastore.retry import RetryTransaction
from grange.metastore.status import DEFAULT_STALE_AFTER
from grange.metastore.store import MetadataStore


class SqlAlchemyStore(MetadataStore):
    """A :class:`MetadataStore` on a SQLAlchemy ``engine`` (SQLite or PostgreSQL)."""

    def __init__(
        self,
        engine: Engine,
        *,
        stale_after: float = DEFAULT_STALE_AFTER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(stale_after=stale_after, clock=clock)
        self.engine = engine

    @classmethod
    def open(
        cls,
        url: str,
        *,
        stale_after: float = DEFAULT_STALE_AFTER,
        clock: Callable[[], float] = time.time,
        upgrade: bool | None = None,
    ) -> SqlAlchemyStore:
        """Open the store at ``url``, creating its schema in an empty database.

        An older schema is upgraded if ``upgrade``; by default SQLite's is and
        PostgreSQL's is refused (:func:`~grange.metastore.migrations.auto_upgrade`).
        """
        engine = get_engine(url)
        with database_errors(engine, doing="open"):
            migrate(engine, upgrade=auto_upgrade(engine) if upgrade is None else upgrade)
        return cls(engine, stale_after=stale_after, clock=clock)

    @contextmanager
    def _write(self) -> Iterator[DriverSql]:
        with (
            database_errors(self.engine, doing="write to"),
            write_transaction(self.engine) as connection,
        ):
            yield DriverSql(connection)

    @contextmanager
    def _read(self) -> Iterator[DriverSql]:
        with (
            database_errors(self.engine, doing="read"),
            read_transaction(self.engine) as connection,
        ):
            yield DriverSql(connection)


@contextmanager
def database_errors(engine: Engine, *, doing: str) -> Iterator[None]:
    """The driver's errors as :class:`~grange.exceptions.GrangeError` (PostgreSQL), or
    :class:`~grange.metastore.retry.RetryTransaction` when the server asks for a retry."""
    try:
        yield
    except DBAPIError as err:
        url = given_url(engine)
        if engine.dialect.name != "postgresql":
            if doing != "open":
                raise
            raise MetadataError(  # SQLite through SQLAlchemy: an older file being migrated
                f"cannot open the metadata database {shown_url(engine)}: {err.orig}".strip(),
                fix="check the URL, and that the file is a grange metadata database",
            ) from None
        if pg_errors.sqlstate(err) in pg_errors.RETRYABLE:
            raise RetryTransaction(pg_errors.detail(err), shown_url(engine)) from err
        translated = pg_errors.translate(err, url, doing=doing)
        if translated is None:
            raise
        raise translated from None
    except sa.exc.TimeoutError as err:  # the pool's, not the server's
        raise pg_errors.pool_timeout_error(given_url(engine), err) from None
