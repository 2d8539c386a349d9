"""The metadata index: flows, runs, steps, tasks, attempts, artifacts, tags.

One SQL schema (SQLAlchemy Core) on SQLite by default — a file
``metadata.db`` under the datastore root — or PostgreSQL for teams. This layer
records *where* artifacts are (blob keys), never their bytes, and knows
nothing of graphs, the runtime or the command line.

    store = MetadataStore.from_url(sqlite_url(root))
    run_id = store.new_run("TrainFlow", user="ada", system_tags=["user:ada"])
    store.register_tasks([...]); store.record_attempts([...])
    store.finish_run("TrainFlow", run_id, status="succeeded")

Modules: :mod:`~grange.metadata.schema` (tables),
:mod:`~grange.metadata.migrations` (versions), :mod:`~grange.metadata.engine`
(connections, SQLite tuning, fork safety), :mod:`~grange.metadata.rows`
(typed rows), :mod:`~grange.metadata.status` (run status, ``crashed``),
:mod:`~grange.metadata.tags` (tag rules), :mod:`~grange.metadata.runs` and
:mod:`~grange.metadata.tasks` (queries), :mod:`~grange.metadata.store` (the API).
"""

from grange.metadata.migrations import LATEST as SCHEMA_VERSION
from grange.metadata.migrations import migrate
from grange.metadata.rows import (
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
from grange.metadata.status import DEFAULT_STALE_AFTER
from grange.metadata.store import MetadataStore, sqlite_url

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
