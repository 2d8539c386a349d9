"""Queries on steps, tasks, attempts, artifacts and metadata.

One text per statement for every store (see :mod:`grange.metastore.dbapi`);
batch writes are one ``executemany`` per table, so recording a thousand
attempts costs a handful of statements. Like :mod:`grange.metastore.runs`,
nothing here opens a transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grange.exceptions import MetadataError
from grange.metastore.dbapi import Sql, from_json, marks, to_json
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

_KEY = "flow = ? AND run_id = ? AND step = ? AND task_id = ?"
_TASK_COLUMNS = (
    "flow, run_id, step, task_id, created_at, status, foreach_stack, parent_task_ids, origin_task"
)
_ATTEMPT_COLUMNS = (
    "flow, run_id, step, task_id, attempt, started_at, finished_at, status, exit_code, "
    "exception, heartbeat_at"
)
_ATTEMPT_INSERT = f"INSERT INTO attempts ({_ATTEMPT_COLUMNS}) VALUES ({marks(11)})"
_ATTEMPT_CONFLICT = " ON CONFLICT (flow, run_id, step, task_id, attempt) DO UPDATE SET "


def _key(ref: TaskRef) -> tuple[str, str, str, str]:
    return (ref.flow, ref.run_id, ref.step, ref.task_id)


def register_tasks(
    connection: Sql, rows: Sequence[TaskRow], *, now: float, keep_existing: bool = False
) -> None:
    """Insert tasks (and the steps they belong to); a task id used twice is an error,
    unless ``keep_existing``: then a task the index has already is left as it is."""
    if not rows:
        return
    steps = {(r.flow, r.run_id, r.step) for r in rows}
    connection.executemany(
        "INSERT INTO steps (flow, run_id, step, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (flow, run_id, step) DO NOTHING",
        [(f, r, s, now) for f, r, s in steps],
    )
    values = []
    for r in rows:
        if r.status not in TASK_STATUSES:
            raise MetadataError(f"task {r.pathspec}: unknown status {r.status!r}")
        created = now if r.created_at is None else r.created_at
        values.append(
            (*_key(r), created, r.status, to_json(list(r.foreach_stack)),
             to_json(list(r.parent_task_ids)), r.origin_task)
        )  # fmt: skip
    sql = f"INSERT INTO tasks ({_TASK_COLUMNS}) VALUES ({marks(9)})"
    if keep_existing:
        sql += " ON CONFLICT (flow, run_id, step, task_id) DO NOTHING"
    try:
        connection.executemany(sql, values)
    except connection.IntegrityError as err:
        raise MetadataError(
            "a task id was registered twice in the same step and run",
            fix="allocate task ids that are unique within a run",
        ) from err


def start_attempts(connection: Sql, rows: Sequence[AttemptRow], *, now: float) -> None:
    """Mark attempts as running (inserting them) and their tasks as running."""
    if not rows:
        return
    update = ", ".join(
        f"{c} = excluded.{c}" for c in ("started_at", "status", "finished_at", "heartbeat_at")
    )
    values = [_attempt_values(r, now=now, status=RUNNING, finished_at=None) for r in rows]
    connection.executemany(_ATTEMPT_INSERT + _ATTEMPT_CONFLICT + update, values)
    _set_task_status(connection, [(r, RUNNING) for r in rows])


def heartbeat_attempts(connection: Sql, refs: Sequence[AttemptRef], *, now: float) -> None:
    """Set the heartbeat of running attempts to ``now``."""
    if not refs:
        return
    connection.executemany(
        f"UPDATE attempts SET heartbeat_at = ? WHERE {_KEY} AND attempt = ? AND status = ?",
        [(now, *_key(r), r.attempt, RUNNING) for r in refs],
    )


def record_attempts(connection: Sql, records: Sequence[AttemptRecord], *, now: float) -> None:
    """Upsert the end of each attempt with its artifacts and metadata."""
    if not records:
        return
    attempts = []
    artifacts: list[tuple[Any, ...]] = []
    metadata: list[tuple[Any, ...]] = []
    for record in records:
        row = record.attempt
        check_attempt_status(row.status)
        finished_at = row.finished_at
        if finished_at is None and row.status != RUNNING:
            finished_at = now
        attempts.append(_attempt_values(row, now=now, status=row.status, finished_at=finished_at))
        key = (*_key(row), row.attempt)
        artifacts += [(*key, a.name, a.key, a.size, a.type, a.encoding) for a in record.artifacts]
        metadata += [(*key, n, v, now) for n, v in record.metadata.items()]
    update = ", ".join(
        f"{c} = excluded.{c}" for c in ("finished_at", "status", "exit_code", "exception")
    )
    update += ", started_at = coalesce(attempts.started_at, excluded.started_at)"
    update += ", heartbeat_at = coalesce(excluded.heartbeat_at, attempts.heartbeat_at)"
    connection.executemany(_ATTEMPT_INSERT + _ATTEMPT_CONFLICT + update, attempts)
    pk = "flow, run_id, step, task_id, attempt, name"
    if artifacts:
        connection.executemany(
            f'INSERT INTO artifacts ({pk}, "key", size, type, encoding) '
            f"VALUES ({marks(10)}) ON CONFLICT ({pk}) DO UPDATE SET "
            '"key" = excluded."key", size = excluded.size, type = excluded.type, '
            "encoding = excluded.encoding",
            artifacts,
        )
    if metadata:
        connection.executemany(
            f"INSERT INTO task_metadata ({pk}, value, created_at) "
            f"VALUES ({marks(8)}) ON CONFLICT ({pk}) DO UPDATE SET "
            "value = excluded.value, created_at = excluded.created_at",
            metadata,
        )
    _set_task_status(connection, [(r.attempt, r.attempt.status) for r in records])


def _attempt_values(
    row: AttemptRow, *, now: float, status: str, finished_at: float | None
) -> tuple[Any, ...]:
    started_at = now if row.started_at is None else row.started_at
    exception = None if row.exception is None else dict(row.exception)
    return (*_key(row), row.attempt, started_at, finished_at, status, row.exit_code,
            to_json(exception), row.heartbeat_at)  # fmt: skip


def _set_task_status(connection: Sql, pairs: Sequence[tuple[AttemptRef, str]]) -> None:
    """A task's status follows its latest attempt: later attempts are not overwritten."""
    connection.executemany(
        f"UPDATE tasks SET status = ? WHERE {_KEY} AND NOT EXISTS "
        f"(SELECT 1 FROM attempts WHERE {_KEY} AND attempt > ?)",
        [(s, *_key(r), *_key(r), r.attempt) for r, s in pairs],
    )


def list_steps(connection: Sql, flow: str, run_id: str) -> list[StepRow]:
    query = (
        "SELECT flow, run_id, step, created_at FROM steps WHERE flow = ? AND run_id = ? "
        "ORDER BY created_at, step"
    )
    return [StepRow(*r) for r in connection.execute(query, (flow, run_id))]


def list_tasks(
    connection: Sql, flow: str, run_id: str, *, step: str | None, run_status: str
) -> list[TaskRow]:
    """Tasks of a run (of one step), in the order they were registered."""
    sql = f"SELECT {_TASK_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ?"
    params = [flow, run_id]
    if step is not None:
        sql += " AND step = ?"
        params.append(step)
    rows = [_task_row(r, run_status) for r in connection.execute(sql, params)]
    rows.sort(key=lambda t: (t.created_at or 0.0, natural_key(t.task_id)))
    return rows


def get_task(connection: Sql, ref: TaskRef, *, run_status: str) -> TaskRow | None:
    row = connection.execute(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE {_KEY}", _key(ref))
    found = row.fetchone()
    return None if found is None else _task_row(found, run_status)


def list_attempts(connection: Sql, ref: TaskRef, *, run_status: str) -> list[AttemptRow]:
    query = f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE {_KEY} ORDER BY attempt"
    return [_attempt_row(r, run_status) for r in connection.execute(query, _key(ref))]


def latest_attempt(connection: Sql, ref: TaskRef, *, run_status: str) -> AttemptRow | None:
    query = f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE {_KEY} ORDER BY attempt DESC LIMIT 1"
    row = connection.execute(query, _key(ref)).fetchone()
    return None if row is None else _attempt_row(row, run_status)


def read_artifacts(connection: Sql, ref: TaskRef, attempt: int) -> list[ArtifactRow]:
    query = (
        f'SELECT name, "key", size, type, encoding FROM artifacts WHERE {_KEY} AND attempt = ? '
        "ORDER BY name"
    )
    return [ArtifactRow(*r) for r in connection.execute(query, (*_key(ref), attempt))]


def read_metadata(connection: Sql, ref: TaskRef, attempt: int | None) -> list[MetadataRow]:
    sql = f"SELECT name, value, attempt, created_at FROM task_metadata WHERE {_KEY}"
    params: list[Any] = list(_key(ref))
    if attempt is not None:
        sql += " AND attempt = ?"
        params.append(attempt)
    sql += " ORDER BY attempt, name"
    return [MetadataRow(*r) for r in connection.execute(sql, params)]


def _task_row(row: Sequence[Any], run_status: str) -> TaskRow:
    flow, run_id, step, task_id, created_at, status, stack, parents, origin = row
    return TaskRow(
        flow=flow,
        run_id=run_id,
        step=step,
        task_id=task_id,
        created_at=created_at,
        status=reported_attempt_status(status, run_status=run_status),
        foreach_stack=tuple(from_json(stack) or ()),
        parent_task_ids=tuple(from_json(parents) or ()),
        origin_task=origin,
    )


def _attempt_row(row: Sequence[Any], run_status: str) -> AttemptRow:
    (flow, run_id, step, task_id, attempt, started_at, finished_at, status, exit_code,
     exception, heartbeat_at) = row  # fmt: skip
    return AttemptRow(
        flow=flow,
        run_id=run_id,
        step=step,
        task_id=task_id,
        attempt=attempt,
        started_at=started_at,
        finished_at=finished_at,
        status=reported_attempt_status(status, run_status=run_status),
        exit_code=exit_code,
        exception=from_json(exception),
        heartbeat_at=heartbeat_at,
    )
