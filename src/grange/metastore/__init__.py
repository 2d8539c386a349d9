"""The metadata index: flows, runs, steps, tasks, attempts, artifacts, tags.

One SQL schema (SQLAlchemy Core, with its SQLite DDL) on SQLite by default — a file
``metadata.db`` under the datastore root — or PostgreSQL for teams. This layer
records *where* artifacts are (blob keys), never their bytes, and knows
nothing of graphs, the runtime or the command line.

    store = MetadataStore.from_url(sqlite_url(root))
    run_id = store.new_run("TrainFlow", user="ada", system_tags=["user:ada"])
    store.register_tasks([...]); store.record_attempts([...])
    store.finish_run("TrainFlow", run_id, status="succeeded")

Modules: :mod:`~grange.metastore.schema` (tables),
:mod:`~grange.metastore.migrations` (versions), :mod:`~grange.metastore.engine`
(connections, SQLite tuning, fork safety), :mod:`~grange.metastore.rows`
(typed rows), :mod:`~grange.metastore.status` (run status, ``crashed``),
:mod:`~grange.metastore.tags` (tag rules), :mod:`~grange.metastore.runs` and
:mod:`~grange.metastore.tasks` (queries, one SQL text for every backend, run
through :mod:`~grange.metastore.dbapi`), :mod:`~grange.metastore.store` (the
API) and its two implementations, :mod:`~grange.metastore.sql_store`
(SQLAlchemy: PostgreSQL, and migrations) and :mod:`~grange.metastore.sqlite_store`
(stdlib ``sqlite3`` for a local SQLite file, with
:mod:`~grange.metastore.sqlite_schema` and :mod:`~grange.metastore.sqlite_file`).
"""

from typing import Any

from grange.metastore.rows import (
    ArtifactRow,
    AttemptKey,
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
from grange.metastore.status import DEFAULT_STALE_AFTER
from grange.metastore.store import MetadataStore, sqlite_url
from grange.metastore.versions import SCHEMA_VERSION

__all__ = [
    "DEFAULT_STALE_AFTER",
    "SCHEMA_VERSION",
    "ArtifactRow",
    "AttemptKey",
    "AttemptRecord",
    "AttemptRef",
    "AttemptRow",
    "FlowRow",
    "MetadataRow",
    "MetadataStore",
    "RunRow",
    "RunTags",
    "StepRow",
    "TaskKey",
    "TaskRef",
    "TaskRow",
    "migrate",
    "sqlite_url",
]


def __getattr__(name: str) -> Any:
    # ``migrate`` needs SQLAlchemy, which an existing local store never imports.
    if name == "migrate":
        from grange.metastore.migrations import migrate

        return migrate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
