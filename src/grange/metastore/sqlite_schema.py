"""The latest metadata schema as SQLite DDL, so a new local store is made without SQLAlchemy.

Creating ``metadata.db`` through SQLAlchemy costs ~0.25 s (importing it and
reflecting the empty file), which is most of the first ``run`` in a new
directory. A brand-new file is instead created here with the stdlib
``sqlite3``, from the statements SQLAlchemy itself emits for
:mod:`grange.metastore.schema` on SQLite: a test compiles that module and
compares, so the two cannot drift. Existing files that are empty or at an
older version still go through SQLAlchemy's migrations.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Final

from grange.metastore.sqlite_file import tune
from grange.metastore.versions import SCHEMA_VERSION

DDL: Final[tuple[str, ...]] = (
    """\
CREATE TABLE artifacts (
    flow VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    step VARCHAR NOT NULL,
    task_id VARCHAR NOT NULL,
    attempt INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    "key" VARCHAR NOT NULL,
    size BIGINT NOT NULL,
    type VARCHAR NOT NULL,
    encoding VARCHAR NOT NULL,
    PRIMARY KEY (flow, run_id, step, task_id, attempt, name)
)""",
    """\
CREATE TABLE attempts (
    flow VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    step VARCHAR NOT NULL,
    task_id VARCHAR NOT NULL,
    attempt INTEGER NOT NULL,
    started_at DOUBLE,
    finished_at DOUBLE,
    status VARCHAR NOT NULL,
    exit_code INTEGER,
    exception JSON,
    heartbeat_at DOUBLE,
    PRIMARY KEY (flow, run_id, step, task_id, attempt)
)""",
    """\
CREATE TABLE deployment_runs (
    deployment VARCHAR NOT NULL,
    launch_key VARCHAR NOT NULL,
    flow VARCHAR NOT NULL,
    run_id VARCHAR,
    reason VARCHAR NOT NULL,
    event_ids JSON,
    scheduled_for DOUBLE,
    created_at DOUBLE NOT NULL,
    status VARCHAR NOT NULL,
    message TEXT,
    PRIMARY KEY (deployment, launch_key)
)""",
    """\
CREATE INDEX ix_deployment_runs_run ON deployment_runs (flow, run_id)""",
    """\
CREATE TABLE deployments (
    name VARCHAR NOT NULL,
    flow VARCHAR NOT NULL,
    spec JSON NOT NULL,
    paused BOOLEAN NOT NULL,
    user VARCHAR NOT NULL,
    created_at DOUBLE NOT NULL,
    updated_at DOUBLE NOT NULL,
    PRIMARY KEY (name)
)""",
    """\
CREATE TABLE events (
    seq INTEGER NOT NULL,
    event_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    payload JSON,
    timestamp DOUBLE NOT NULL,
    received_at DOUBLE NOT NULL,
    source VARCHAR NOT NULL,
    user VARCHAR,
    host VARCHAR,
    PRIMARY KEY (seq),
    CONSTRAINT uq_events_event_id UNIQUE (event_id)
)""",
    """\
CREATE INDEX ix_events_name_seq ON events (name, seq)""",
    """\
CREATE TABLE flows (
    name VARCHAR NOT NULL,
    created_at DOUBLE NOT NULL,
    PRIMARY KEY (name)
)""",
    """\
CREATE TABLE run_counters (
    flow VARCHAR NOT NULL,
    last_number BIGINT NOT NULL,
    PRIMARY KEY (flow)
)""",
    """\
CREATE TABLE run_tags (
    flow VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    tag VARCHAR NOT NULL,
    system BOOLEAN NOT NULL,
    PRIMARY KEY (flow, run_id, tag)
)""",
    """\
CREATE INDEX ix_run_tags_tag ON run_tags (tag, flow, run_id)""",
    """\
CREATE TABLE runs (
    flow VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    number BIGINT NOT NULL,
    user VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    created_at DOUBLE NOT NULL,
    started_at DOUBLE,
    finished_at DOUBLE,
    heartbeat_at DOUBLE,
    origin_run_id VARCHAR,
    runtime VARCHAR NOT NULL,
    parameters JSON,
    runtime_host VARCHAR,
    runtime_pid INTEGER,
    runtime_started BIGINT,
    PRIMARY KEY (flow, run_id),
    CONSTRAINT uq_runs_flow_number UNIQUE (flow, number)
)""",
    """\
CREATE TABLE scheduler_leases (
    name VARCHAR NOT NULL,
    holder VARCHAR NOT NULL,
    host VARCHAR NOT NULL,
    pid INTEGER NOT NULL,
    acquired_at DOUBLE NOT NULL,
    heartbeat_at DOUBLE NOT NULL,
    PRIMARY KEY (name)
)""",
    """\
CREATE TABLE scheduler_state (
    deployment VARCHAR NOT NULL,
    "key" VARCHAR NOT NULL,
    value JSON,
    updated_at DOUBLE NOT NULL,
    PRIMARY KEY (deployment, "key")
)""",
    """\
CREATE TABLE schema_version (
    id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    updated_at DOUBLE NOT NULL,
    PRIMARY KEY (id)
)""",
    """\
CREATE TABLE steps (
    flow VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    step VARCHAR NOT NULL,
    created_at DOUBLE NOT NULL,
    PRIMARY KEY (flow, run_id, step)
)""",
    """\
CREATE TABLE task_metadata (
    flow VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    step VARCHAR NOT NULL,
    task_id VARCHAR NOT NULL,
    attempt INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    value TEXT NOT NULL,
    created_at DOUBLE NOT NULL,
    PRIMARY KEY (flow, run_id, step, task_id, attempt, name)
)""",
    """\
CREATE TABLE tasks (
    flow VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    step VARCHAR NOT NULL,
    task_id VARCHAR NOT NULL,
    created_at DOUBLE NOT NULL,
    status VARCHAR NOT NULL,
    foreach_stack JSON,
    parent_task_ids JSON,
    origin_task VARCHAR,
    PRIMARY KEY (flow, run_id, step, task_id)
)""",
)
"""``CREATE`` statements of every table and index, in SQLAlchemy's order (and
text, but for whitespace at the ends of lines)."""


def create_new(path: Path) -> None:
    """Create the schema in ``path`` if it holds no table, unless another process
    just did.

    ``BEGIN IMMEDIATE`` serializes processes creating the same new file: the
    first creates and stamps it, the others find its tables and leave.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, check_same_thread=False)
    try:
        tune(connection)
        connection.execute("BEGIN IMMEDIATE")
        try:
            # Only a file with no table at all: one with other tables (or ours
            # at some version) is SQLAlchemy's to migrate, or to refuse.
            tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables == 0:
                for statement in DDL:
                    connection.execute(statement)
                connection.execute(
                    "INSERT INTO schema_version (id, version, updated_at) VALUES (1, ?, ?)",
                    (SCHEMA_VERSION, time.time()),
                )
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    finally:
        connection.close()
