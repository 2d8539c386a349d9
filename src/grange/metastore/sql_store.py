"""The store on SQLAlchemy: every backend, and the only one that creates or migrates.

:meth:`MetadataStore.from_url <grange.metastore.store.MetadataStore.from_url>`
returns it for PostgreSQL, for a new SQLite file and for one at an older
schema version; importing this module imports SQLAlchemy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from grange.exceptions import MetadataError
from grange.metastore.dbapi import DriverSql
from grange.metastore.engine import get_engine, read_transaction, write_transaction
from grange.metastore.migrations import migrate
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
    ) -> SqlAlchemyStore:
        """Open the store at ``url``, creating or migrating its schema as needed."""
        engine = get_engine(url)
        try:
            migrate(engine)
        except DBAPIError as err:  # the server is not there, refuses us, or the file is not one
            where = engine.url.render_as_string(hide_password=True)
            raise MetadataError(
                f"cannot open the metadata database {where}: {err.orig}".strip(),
                fix="check the URL, and that the database server runs and is reachable from here",
            ) from None
        return cls(engine, stale_after=stale_after, clock=clock)

    @contextmanager
    def _write(self) -> Iterator[DriverSql]:
        with write_transaction(self.engine) as connection:
            yield DriverSql(connection)

    @contextmanager
    def _read(self) -> Iterator[DriverSql]:
        with read_transaction(self.engine) as connection:
            yield DriverSql(connection)
