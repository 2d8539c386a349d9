"""Looking after a metadata database: its schema version, and upgrading it on purpose.

Behind ``grange db status`` and ``grange db upgrade``. Opening a store
creates the tables of an empty database and upgrades an older SQLite file by
itself, but refuses a PostgreSQL database at an older version (see
:func:`grange.metastore.migrations.auto_upgrade`): a shared database is
upgraded once, with :func:`upgrade`, which several processes may run at once
(they queue on the migration lock; all but the first find nothing to do).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import sqlalchemy as sa

from grange.metastore import migrations
from grange.metastore.engine import get_engine, pool_of, read_transaction, shown_url
from grange.metastore.pool import PoolSettings
from grange.metastore.sql_store import database_errors

EMPTY, CURRENT, OLDER, NEWER = "empty", "current", "older", "newer"


@dataclass(frozen=True)
class SchemaStatus:
    """What ``grange db status`` shows of one metadata database."""

    url: str  # password masked
    server: str  # "PostgreSQL 15.4", "SQLite 3.40.1"
    version: int
    latest: int
    flows: int | None = None  # counted when the schema is readable
    runs: int | None = None
    pool: PoolSettings | None = None

    @property
    def state(self) -> str:
        if self.version == 0:
            return EMPTY
        if self.version == self.latest:
            return CURRENT
        return OLDER if self.version < self.latest else NEWER


@dataclass(frozen=True)
class UpgradeReport:
    """What :func:`upgrade` found and did."""

    url: str  # password masked
    before: int  # the version found under the migration lock
    after: int
    applied: tuple[tuple[int, str], ...]  # (version, what it does), in order


def schema_status(url: str) -> SchemaStatus:
    """The schema version and size of the database at ``url``, changing nothing."""
    engine = get_engine(url)
    with database_errors(engine, doing="read"), read_transaction(engine) as connection:
        version = migrations.schema_version_of(connection)
        flows = runs = None
        if 0 < version <= migrations.LATEST:
            flows = connection.exec_driver_sql("SELECT count(*) FROM flows").scalar()
            runs = connection.exec_driver_sql("SELECT count(*) FROM runs").scalar()
        server = _server(connection)
    return SchemaStatus(
        url=shown_url(engine),
        server=server,
        version=version,
        latest=migrations.LATEST,
        flows=flows,
        runs=runs,
        pool=pool_of(engine),
    )


def upgrade(url: str) -> UpgradeReport:
    """Apply the migrations the database at ``url`` lacks (creating an empty one)."""
    engine = get_engine(url)
    with database_errors(engine, doing="upgrade"):
        before, applied = migrations.apply(engine)
    return UpgradeReport(shown_url(engine), before, migrations.LATEST, tuple(applied))


def _server(connection: sa.Connection) -> str:
    if connection.dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    info = connection.dialect.server_version_info or ()
    return "PostgreSQL " + ".".join(str(part) for part in info)
