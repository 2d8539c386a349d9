"""Versioned migrations of the metadata schema.

The ``schema_version`` table holds one row: the version of the schema the
database has. :data:`MIGRATIONS` is the ordered list of steps; migration ``N``
takes a database at version ``N - 1`` to version ``N``.

Migration 1 creates every table of :mod:`grange.metastore.schema`, which always
describes the *latest* schema, so a new database goes straight to
:data:`LATEST`; migrations 2 and later exist for databases created by an
older grange. To change the schema: edit ``schema.py`` and append a migration
that makes the same change to an existing database (``ALTER TABLE ...``, with
``op``-free SQLAlchemy Core or plain SQL that both SQLite and PostgreSQL accept).

:func:`migrate` creates an empty database and, for SQLite, upgrades an older
one as the store is opened; a PostgreSQL database at an older version is
refused with the command that upgrades it, ``grange db upgrade`` (see
:func:`auto_upgrade`). Upgrading is idempotent and safe when several processes
do it at once: a cheap read returns early when the database is current; otherwise the
work runs in one write transaction that holds the database's migration lock
(SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-level advisory lock),
re-reads the version under that lock, and either finds the work done or does
it and commits schema and version together. A database newer than this code
is refused with a :class:`~grange.exceptions.MetadataError`, never written.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from grange.exceptions import MetadataError
from grange.metastore import schema
from grange.metastore.engine import read_transaction, shown_url, write_transaction
from grange.metastore.versions import refuse_newer

Migration = Callable[[Connection], None]

# Arbitrary, fixed: the key of PostgreSQL's advisory lock for migrations.
_PG_LOCK_KEY = 0x67_72_61_6E_67_65  # "grange"


def _create_tables(connection: Connection) -> None:
    """Version 1: every table and index of the current schema."""
    schema.METADATA.create_all(connection, checkfirst=True)


def _runtime_process(connection: Connection) -> None:
    """Version 2: the process that runs a run, for exact liveness on its host."""
    for column, kind in (
        ("runtime_host", "VARCHAR"),
        ("runtime_pid", "INTEGER"),
        ("runtime_started", "BIGINT"),
    ):
        connection.exec_driver_sql(f"ALTER TABLE runs ADD COLUMN {column} {kind}")


def _events_and_scheduler(connection: Connection) -> None:
    """Version 3: events, and the local scheduler's deployments and state."""
    for table in (
        schema.events,
        schema.deployments,
        schema.scheduler_state,
        schema.deployment_runs,
        schema.scheduler_leases,
    ):
        table.create(connection, checkfirst=True)


MIGRATIONS: tuple[tuple[int, str, Migration], ...] = (
    (1, "create the metadata tables", _create_tables),
    (2, "record the runtime process of runs", _runtime_process),
    (3, "events and the local scheduler", _events_and_scheduler),
)
LATEST: int = MIGRATIONS[-1][0]


def migrate(engine: Engine, *, upgrade: bool = True) -> int:
    """Bring the database to :data:`LATEST`; return the version it is at.

    An empty database is always created at :data:`LATEST`. One at an older
    version is upgraded only with ``upgrade``; without it, it is refused with
    the command that upgrades it (see :func:`auto_upgrade`).
    """
    with read_transaction(engine) as connection:
        current = _read_version(connection)
    _refuse_newer(current)
    if current == LATEST:
        return current
    if current and not upgrade:
        raise outdated_error(engine, current)
    apply(engine)
    return LATEST


def apply(engine: Engine) -> tuple[int, list[tuple[int, str]]]:
    """Apply the missing migrations under the migration lock: the version found
    under the lock, and the migrations applied (none when another process was first)."""
    applied: list[tuple[int, str]] = []
    with write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
        schema.schema_version.create(connection, checkfirst=True)
        current = _read_version(connection)
        _refuse_newer(current)
        if current == 0:
            _create_tables(connection)
            _stamp(connection, LATEST, insert=True)
            applied = [(LATEST, "create the metadata tables")]
        else:
            for version, doc, step in MIGRATIONS:
                if version > current:
                    step(connection)
                    _stamp(connection, version, insert=False)
                    applied.append((version, doc))
    return current, applied


def auto_upgrade(engine: Engine) -> bool:
    """Whether opening a store upgrades an older schema by itself.

    Yes for SQLite (one user's index, beside the datastore it indexes); no for
    PostgreSQL, which a team shares: an upgrade there makes every older grange
    that uses the database refuse it (runs already running included), so it is
    done on purpose, once, with ``grange db upgrade``.
    """
    return engine.dialect.name == "sqlite"


def outdated_error(engine: Engine, version: int) -> MetadataError:
    """The refusal of a shared database at an older schema version."""
    url = shown_url(engine)
    return MetadataError(
        f"the metadata database {url} is at schema version {version}; this grange "
        f"needs version {LATEST}",
        fix="upgrade it once: grange db upgrade (with GRANGE_METADATA set as here, or "
        "--metadata URL); every grange that uses it must then be this version or newer",
    )


def schema_version(engine: Engine) -> int:
    """The schema version of the database (0 for an empty one)."""
    with read_transaction(engine) as connection:
        return _read_version(connection)


def schema_version_of(connection: Connection) -> int:
    """The schema version, read on a connection the caller holds (0: empty)."""
    return _read_version(connection)


def _read_version(connection: Connection) -> int:
    if not sa.inspect(connection).has_table(schema.schema_version.name):
        return 0
    table = schema.schema_version
    version = connection.execute(sa.select(table.c.version).where(table.c.id == 1)).scalar()
    return int(version or 0)


def _stamp(connection: Connection, version: int, *, insert: bool) -> None:
    table = schema.schema_version
    values = {"version": version, "updated_at": time.time()}
    if insert:
        connection.execute(table.insert().values(id=1, **values))
    else:
        connection.execute(table.update().where(table.c.id == 1).values(**values))


def _refuse_newer(version: int) -> None:
    refuse_newer(version, LATEST)
