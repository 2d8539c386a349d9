"""The tables of the metadata index, in SQLAlchemy Core.

One schema serves SQLite (the default, a file under the datastore root) and
PostgreSQL, so only portable types are used: text keys, ``Double`` POSIX
timestamps, ``BigInteger`` sizes, ``Boolean`` and ``JSON`` (SQLite's JSON1 text,
PostgreSQL's ``json``). There are no foreign keys: the only writer is grange
itself, SQLite would not enforce them unless asked on every connection, and
batch inserts stay cheap without them.

This module describes the *latest* schema. A new database is created from it
directly; an older one is brought up to date by the steps in
:mod:`grange.metastore.migrations`, which must change this module and add a
migration together.

Keys and indexes, and the queries they serve:

- ``runs``: primary key ``(flow, run_id)``; unique ``(flow, number)`` orders a
  flow's runs newest first without a sort.
- ``run_counters``: one row per flow holding its last run number; run ids are
  allocated by incrementing it in the transaction that inserts the run.
- ``run_tags``: primary key ``(flow, run_id, tag)`` reads a run's tags; index
  ``(tag, flow, run_id)`` finds the runs carrying a tag (namespaces are tags).
- ``tasks``: primary key ``(flow, run_id, step, task_id)``, whose prefix is the
  ``(flow, run_id, step)`` index that lists a step's tasks.
- ``attempts``, ``artifacts``, ``task_metadata``: keyed by the task's key plus
  ``attempt`` (and ``name``), so each attempt's rows are one range scan.
- ``events``: every event received (published, posted, auto-emitted), in
  arrival order ``seq``; unique ``event_id`` delivers a duplicate once; index
  ``(name, seq)`` lists one event's history.
- ``deployments``, ``scheduler_state``, ``deployment_runs``,
  ``scheduler_leases``: the local scheduler's deployed flows, its per-deployment
  state (cron cursor, pending events of an AND), the runs it started (one row
  per launch key, so a tick or an event set starts at most one run) and the
  lease that keeps two schedulers from running one store.
"""

from __future__ import annotations

import sqlalchemy as sa

METADATA = sa.MetaData()

_JSON = sa.JSON(none_as_null=True)


def _key(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String, nullable=False)


def _time(name: str, *, nullable: bool = True) -> sa.Column[float]:
    return sa.Column(name, sa.Double, nullable=nullable)


schema_version = sa.Table(
    "schema_version",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.Integer, nullable=False),
    _time("updated_at", nullable=False),
)
"""One row (``id = 1``): the version of the schema the database holds."""

flows = sa.Table(
    "flows",
    METADATA,
    sa.Column("name", sa.String, primary_key=True),
    _time("created_at", nullable=False),
)

run_counters = sa.Table(
    "run_counters",
    METADATA,
    sa.Column("flow", sa.String, primary_key=True),
    sa.Column("last_number", sa.BigInteger, nullable=False),
)

runs = sa.Table(
    "runs",
    METADATA,
    _key("flow"),
    _key("run_id"),
    sa.Column("number", sa.BigInteger, nullable=False),
    sa.Column("user", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    _time("created_at", nullable=False),
    _time("started_at"),
    _time("finished_at"),
    _time("heartbeat_at"),
    sa.Column("origin_run_id", sa.String),
    sa.Column("runtime", sa.String, nullable=False),
    sa.Column("parameters", _JSON),
    # The process that runs it (grange.metastore.liveness); NULL when unknown.
    sa.Column("runtime_host", sa.String),
    sa.Column("runtime_pid", sa.Integer),
    sa.Column("runtime_started", sa.BigInteger),
    sa.PrimaryKeyConstraint("flow", "run_id"),
    sa.UniqueConstraint("flow", "number", name="uq_runs_flow_number"),
)

run_tags = sa.Table(
    "run_tags",
    METADATA,
    _key("flow"),
    _key("run_id"),
    _key("tag"),
    sa.Column("system", sa.Boolean, nullable=False),
    sa.PrimaryKeyConstraint("flow", "run_id", "tag"),
    sa.Index("ix_run_tags_tag", "tag", "flow", "run_id"),
)

steps = sa.Table(
    "steps",
    METADATA,
    _key("flow"),
    _key("run_id"),
    _key("step"),
    _time("created_at", nullable=False),
    sa.PrimaryKeyConstraint("flow", "run_id", "step"),
)

tasks = sa.Table(
    "tasks",
    METADATA,
    _key("flow"),
    _key("run_id"),
    _key("step"),
    _key("task_id"),
    _time("created_at", nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("foreach_stack", _JSON),
    sa.Column("parent_task_ids", _JSON),
    sa.Column("origin_task", sa.String),
    sa.PrimaryKeyConstraint("flow", "run_id", "step", "task_id"),
)

attempts = sa.Table(
    "attempts",
    METADATA,
    _key("flow"),
    _key("run_id"),
    _key("step"),
    _key("task_id"),
    sa.Column("attempt", sa.Integer, nullable=False),
    _time("started_at"),
    _time("finished_at"),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("exit_code", sa.Integer),
    sa.Column("exception", _JSON),
    _time("heartbeat_at"),
    sa.PrimaryKeyConstraint("flow", "run_id", "step", "task_id", "attempt"),
)

artifacts = sa.Table(
    "artifacts",
    METADATA,
    _key("flow"),
    _key("run_id"),
    _key("step"),
    _key("task_id"),
    sa.Column("attempt", sa.Integer, nullable=False),
    _key("name"),
    sa.Column("key", sa.String, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("type", sa.String, nullable=False),
    sa.Column("encoding", sa.String, nullable=False),
    sa.PrimaryKeyConstraint("flow", "run_id", "step", "task_id", "attempt", "name"),
)

task_metadata = sa.Table(
    "task_metadata",
    METADATA,
    _key("flow"),
    _key("run_id"),
    _key("step"),
    _key("task_id"),
    sa.Column("attempt", sa.Integer, nullable=False),
    _key("name"),
    sa.Column("value", sa.Text, nullable=False),
    _time("created_at", nullable=False),
    sa.PrimaryKeyConstraint("flow", "run_id", "step", "task_id", "attempt", "name"),
)

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: the rowid

events = sa.Table(
    "events",
    METADATA,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String, nullable=False),
    _key("name"),
    sa.Column("payload", _JSON),
    _time("timestamp", nullable=False),  # when the event happened (the publisher's clock)
    _time("received_at", nullable=False),  # when this store recorded it
    sa.Column("source", sa.String, nullable=False),  # publish | http | cli | auto | cloudevents
    sa.Column("user", sa.String),
    sa.Column("host", sa.String),
    sa.UniqueConstraint("event_id", name="uq_events_event_id"),
    sa.Index("ix_events_name_seq", "name", "seq"),
)

deployments = sa.Table(
    "deployments",
    METADATA,
    sa.Column("name", sa.String, primary_key=True),  # project_flow_name, or the flow's name
    _key("flow"),
    sa.Column("spec", _JSON, nullable=False),  # what to run and when (grange.events.deployments)
    sa.Column("paused", sa.Boolean, nullable=False),
    sa.Column("user", sa.String, nullable=False),
    _time("created_at", nullable=False),
    _time("updated_at", nullable=False),
)

scheduler_state = sa.Table(
    "scheduler_state",
    METADATA,
    _key("deployment"),
    _key("key"),
    sa.Column("value", _JSON),
    _time("updated_at", nullable=False),
    sa.PrimaryKeyConstraint("deployment", "key"),
)

deployment_runs = sa.Table(
    "deployment_runs",
    METADATA,
    _key("deployment"),
    _key("launch_key"),  # "cron:<tick>", "events:<ids>", "manual:<id>": one run per key
    _key("flow"),
    sa.Column("run_id", sa.String),  # NULL until the run has claimed its id
    sa.Column("reason", sa.String, nullable=False),  # schedule | event | manual
    sa.Column("event_ids", _JSON),
    _time("scheduled_for"),
    _time("created_at", nullable=False),
    sa.Column("status", sa.String, nullable=False),  # launching | running | done | failed
    sa.Column("message", sa.Text),
    sa.PrimaryKeyConstraint("deployment", "launch_key"),
    sa.Index("ix_deployment_runs_run", "flow", "run_id"),
)

scheduler_leases = sa.Table(
    "scheduler_leases",
    METADATA,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("holder", sa.String, nullable=False),
    sa.Column("host", sa.String, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    _time("acquired_at", nullable=False),
    _time("heartbeat_at", nullable=False),
)

TASK_KEY = ("flow", "run_id", "step", "task_id")
"""The columns that name a task, in every task-level table."""
