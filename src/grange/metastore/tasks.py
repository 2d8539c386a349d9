"""Queries on steps, tasks, attempts, artifacts and task metadata.

Writes are batches: one ``executemany`` per table, so that thousands of tasks
cost a handful of statements. Like :mod:`grange.metastore.runs`, nothing here
opens a transaction; the store runs each call in exactly one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from grange.exceptions import MetadataError
from grange.metastore import schema
from grange.metastore.engine import insert
from grange.metastore.rows import (
    ArtifactRow,
    AttemptRecord,
    AttemptRef,
    AttemptRow,
    MetadataRow,
    StepRow,
    TaskRef,
    TaskRow,
    natural_key,
)
from grange.metastore.status import (
    RUNNING,
    TASK_STATUSES,
    check_attempt_status,
    reported_attempt_status,
)

_steps, _tasks, _attempts = schema.steps, schema.tasks, schema.attempts
_artifacts, _meta = schema.artifacts, schema.task_metadata
_TASK_KEY = list(schema.TASK_KEY)
_ATTEMPT_KEY = [*schema.TASK_KEY, "attempt"]


def _key_params(ref: TaskRef, prefix: str = "k_") -> dict[str, Any]:
    return {prefix + c: getattr(ref, c) for c in _TASK_KEY}


def _where_key(table: sa.Table, prefix: str = "k_") -> sa.ColumnElement[bool]:
    """``table``'s task key equal to bound parameters named ``prefix + column``."""
    return sa.and_(*(table.c[c] == sa.bindparam(prefix + c) for c in _TASK_KEY))


def _where_task(table: sa.Table, ref: TaskRef) -> sa.ColumnElement[bool]:
    return sa.and_(*(table.c[c] == getattr(ref, c) for c in _TASK_KEY))


def register_tasks(connection: Connection, rows: Sequence[TaskRow], *, now: float) -> None:
    """Insert tasks (and the steps they belong to); a task id used twice is an error."""
    if not rows:
        return
    steps = {(r.flow, r.run_id, r.step) for r in rows}
    step_rows = [{"flow": f, "run_id": r, "step": s, "created_at": now} for f, r, s in steps]
    stmt = insert(connection, _steps).on_conflict_do_nothing(index_elements=_TASK_KEY[:3])
    connection.execute(stmt, step_rows)
    values = []
    for r in rows:
        if r.status not in TASK_STATUSES:
            raise MetadataError(f"task {r.pathspec}: unknown status {r.status!r}")
        values.append(
            {
                "flow": r.flow,
                "run_id": r.run_id,
                "step": r.step,
                "task_id": r.task_id,
                "created_at": now if r.created_at is None else r.created_at,
                "status": r.status,
                "foreach_stack": list(r.foreach_stack),
                "parent_task_ids": list(r.parent_task_ids),
                "origin_task": r.origin_task,
            }
        )
    try:
        connection.execute(_tasks.insert(), values)
    except sa.exc.IntegrityError as err:
        raise MetadataError(
            "a task id was registered twice in the same step and run",
            fix="allocate task ids that are unique within a run",
        ) from err


def start_attempts(connection: Connection, rows: Sequence[AttemptRow], *, now: float) -> None:
    """Mark attempts as running (inserting them) and their tasks as running."""
    if not rows:
        return
    values = [_attempt_values(r, now=now) | {"status": RUNNING, "finished_at": None} for r in rows]
    stmt = insert(connection, _attempts)
    stmt = stmt.on_conflict_do_update(
        index_elements=_ATTEMPT_KEY,
        set_={c: stmt.excluded[c] for c in ("started_at", "status", "finished_at", "heartbeat_at")},
    )
    connection.execute(stmt, values)
    _set_task_status(connection, [(r, RUNNING) for r in rows])


def heartbeat_attempts(connection: Connection, refs: Sequence[AttemptRef], *, now: float) -> None:
    """Set the heartbeat of running attempts to ``now``."""
    if not refs:
        return
    stmt = (
        _attempts.update()
        .where(_where_key(_attempts), _attempts.c.attempt == sa.bindparam("k_attempt"))
        .where(_attempts.c.status == RUNNING)
        .values(heartbeat_at=now)
    )
    connection.execute(stmt, [_key_params(r) | {"k_attempt": r.attempt} for r in refs])


def record_attempts(
    connection: Connection, records: Sequence[AttemptRecord], *, now: float
) -> None:
    """Upsert the end of each attempt with its artifacts and metadata."""
    if not records:
        return
    attempts = []
    artifacts: list[dict[str, Any]] = []
    metadata: list[dict[str, Any]] = []
    for record in records:
        row = record.attempt
        check_attempt_status(row.status)
        values = _attempt_values(row, now=now)
        if row.finished_at is None and row.status != RUNNING:
            values["finished_at"] = now
        attempts.append(values)
        key = {c: values[c] for c in _ATTEMPT_KEY}
        artifacts += [
            key | {"name": a.name, "key": a.key, "size": a.size, "type": a.type,
                   "encoding": a.encoding}
            for a in record.artifacts
        ]  # fmt: skip
        metadata += [
            key | {"name": n, "value": v, "created_at": now} for n, v in record.metadata.items()
        ]
    stmt = insert(connection, _attempts)
    update: dict[str, sa.ColumnElement[Any]] = {
        c: stmt.excluded[c] for c in ("finished_at", "status", "exit_code", "exception")
    }
    update["started_at"] = sa.func.coalesce(_attempts.c.started_at, stmt.excluded.started_at)
    update["heartbeat_at"] = sa.func.coalesce(stmt.excluded.heartbeat_at, _attempts.c.heartbeat_at)
    connection.execute(
        stmt.on_conflict_do_update(index_elements=_ATTEMPT_KEY, set_=update), attempts
    )
    if artifacts:
        stmt = insert(connection, _artifacts)
        update = {c: stmt.excluded[c] for c in ("key", "size", "type", "encoding")}
        pk = [*_ATTEMPT_KEY, "name"]
        connection.execute(stmt.on_conflict_do_update(index_elements=pk, set_=update), artifacts)
    if metadata:
        stmt = insert(connection, _meta)
        update = {c: stmt.excluded[c] for c in ("value", "created_at")}
        pk = [*_ATTEMPT_KEY, "name"]
        connection.execute(stmt.on_conflict_do_update(index_elements=pk, set_=update), metadata)
    _set_task_status(connection, [(r.attempt, r.attempt.status) for r in records])


def _attempt_values(row: AttemptRow, *, now: float) -> dict[str, Any]:
    return {
        "flow": row.flow,
        "run_id": row.run_id,
        "step": row.step,
        "task_id": row.task_id,
        "attempt": row.attempt,
        "started_at": now if row.started_at is None else row.started_at,
        "finished_at": row.finished_at,
        "status": row.status,
        "exit_code": row.exit_code,
        "exception": None if row.exception is None else dict(row.exception),
        "heartbeat_at": row.heartbeat_at,
    }


def _set_task_status(connection: Connection, pairs: Sequence[tuple[AttemptRef, str]]) -> None:
    """A task's status follows its latest attempt: later attempts are not overwritten."""
    later = sa.exists().where(
        _where_key(_attempts), _attempts.c.attempt > sa.bindparam("k_attempt")
    )
    stmt = (
        _tasks.update()
        .where(_where_key(_tasks), sa.not_(later))
        .values(status=sa.bindparam("k_status"))
    )
    params = [_key_params(r) | {"k_attempt": r.attempt, "k_status": s} for r, s in pairs]
    connection.execute(stmt, params)


def list_steps(connection: Connection, flow: str, run_id: str) -> list[StepRow]:
    query = (
        sa.select(_steps)
        .where(_steps.c.flow == flow, _steps.c.run_id == run_id)
        .order_by(_steps.c.created_at, _steps.c.step)
    )
    return [StepRow(r.flow, r.run_id, r.step, r.created_at) for r in connection.execute(query)]


def list_tasks(
    connection: Connection, flow: str, run_id: str, *, step: str | None, run_status: str
) -> list[TaskRow]:
    """Tasks of a run (of one step), in the order they were registered."""
    query = sa.select(_tasks).where(_tasks.c.flow == flow, _tasks.c.run_id == run_id)
    if step is not None:
        query = query.where(_tasks.c.step == step)
    rows = [_task_row(r, run_status) for r in connection.execute(query)]
    rows.sort(key=lambda t: (t.created_at or 0.0, natural_key(t.task_id)))
    return rows


def get_task(connection: Connection, ref: TaskRef, *, run_status: str) -> TaskRow | None:
    row = connection.execute(sa.select(_tasks).where(_where_task(_tasks, ref))).first()
    return None if row is None else _task_row(row, run_status)


def list_attempts(connection: Connection, ref: TaskRef, *, run_status: str) -> list[AttemptRow]:
    query = sa.select(_attempts).where(_where_task(_attempts, ref)).order_by(_attempts.c.attempt)
    return [_attempt_row(r, run_status) for r in connection.execute(query)]


def latest_attempt(connection: Connection, ref: TaskRef, *, run_status: str) -> AttemptRow | None:
    query = (
        sa.select(_attempts)
        .where(_where_task(_attempts, ref))
        .order_by(_attempts.c.attempt.desc())
        .limit(1)
    )
    row = connection.execute(query).first()
    if row is None:
        return None
    return _attempt_row(row, run_status)


def read_artifacts(connection: Connection, ref: TaskRef, attempt: int) -> list[ArtifactRow]:
    query = (
        sa.select(_artifacts)
        .where(_where_task(_artifacts, ref), _artifacts.c.attempt == attempt)
        .order_by(_artifacts.c.name)
    )
    return [
        ArtifactRow(r.name, r.key, r.size, r.type, r.encoding) for r in connection.execute(query)
    ]


def read_metadata(connection: Connection, ref: TaskRef, attempt: int | None) -> list[MetadataRow]:
    query = sa.select(_meta).where(_where_task(_meta, ref))
    if attempt is not None:
        query = query.where(_meta.c.attempt == attempt)
    query = query.order_by(_meta.c.attempt, _meta.c.name)
    return [
        MetadataRow(r.name, r.value, r.attempt, r.created_at) for r in connection.execute(query)
    ]


def _task_row(row: Row[Any], run_status: str) -> TaskRow:
    return TaskRow(
        flow=row.flow,
        run_id=row.run_id,
        step=row.step,
        task_id=row.task_id,
        created_at=row.created_at,
        status=reported_attempt_status(row.status, run_status=run_status),
        foreach_stack=tuple(row.foreach_stack or ()),
        parent_task_ids=tuple(row.parent_task_ids or ()),
        origin_task=row.origin_task,
    )


def _attempt_row(row: Row[Any], run_status: str) -> AttemptRow:
    return AttemptRow(
        flow=row.flow,
        run_id=row.run_id,
        step=row.step,
        task_id=row.task_id,
        attempt=row.attempt,
        started_at=row.started_at,
        finished_at=row.finished_at,
        status=reported_attempt_status(row.status, run_status=run_status),
        exit_code=row.exit_code,
        exception=row.exception,
        heartbeat_at=row.heartbeat_at,
    )
