"""Queries on flows, runs and run tags, each on a connection the caller holds.

One text per statement for every store (see :mod:`grange.metastore.dbapi`).
These functions do not open transactions; :class:`~grange.metastore.store.
MetadataStore` wraps each public call in exactly one. Reads take ``now`` and
``stale_after`` to report stale running runs as ``crashed`` (see
:mod:`grange.metastore.status`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from grange.exceptions import MetadataError
from grange.metastore.dbapi import Sql, from_json, marks, to_json
from grange.metastore.liveness import RuntimeProcess, is_alive
from grange.metastore.rows import FlowRow, RunRow, RunTags
from grange.metastore.status import CLUSTER_RUNTIMES, CRASHED, RUNNING, reported_run_status
from grange.metastore.tags import check_tag_count, check_tags, check_user_tags

_LAST_SEEN = "coalesce(heartbeat_at, started_at, created_at)"
_PROCESS = "runtime_host, runtime_pid, runtime_started"
_RUN_COLUMNS = (
    'flow, run_id, number, "user", status, created_at, started_at, finished_at, '
    f"heartbeat_at, origin_run_id, runtime, parameters, {_PROCESS}"
)
INSERTED_COLUMNS = _RUN_COLUMNS.removesuffix(f", {_PROCESS}")
_CHUNK = 500


def ensure_flow(connection: Sql, flow: str, *, now: float) -> None:
    """Register ``flow`` unless it is known already."""
    connection.execute(
        "INSERT INTO flows (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        (flow, now),
    )


def create_run(
    connection: Sql,
    flow: str,
    *,
    run_id: str | None,
    user: str,
    tags: Iterable[str],
    system_tags: Iterable[str],
    parameters: Mapping[str, Any],
    origin_run_id: str | None,
    runtime: str,
    now: float,
) -> str:
    """Insert a running run, allocating its number (and id unless given)."""
    system = check_tags(system_tags, what="system tags")
    user_tags = check_tags(tags)
    check_user_tags(user_tags, system)
    user_tags -= system
    check_tag_count(user_tags)
    ensure_flow(connection, flow, now=now)
    number = next_number(connection, flow)
    run_id = str(number) if run_id is None else run_id
    if run_id_exists(connection, flow, run_id):
        raise MetadataError(f"run {flow}/{run_id} exists already", fix="choose another run id")
    connection.execute(
        f"INSERT INTO runs ({INSERTED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (flow, run_id, number, user, RUNNING, now, now, None, now, origin_run_id, runtime,
         to_json(dict(parameters))),
    )  # fmt: skip
    rows = [(flow, run_id, t, False) for t in sorted(user_tags)]
    rows += [(flow, run_id, t, True) for t in sorted(system)]
    if rows:
        connection.executemany(
            "INSERT INTO run_tags (flow, run_id, tag, system) VALUES (?, ?, ?, ?)", rows
        )
    return run_id


def next_number(connection: Sql, flow: str) -> int:
    return int(
        connection.execute(
            "INSERT INTO run_counters (flow, last_number) VALUES (?, 1) ON CONFLICT (flow) "
            "DO UPDATE SET last_number = run_counters.last_number + 1 RETURNING last_number",
            (flow,),
        ).fetchone()[0]
    )


def record_process(connection: Sql, flow: str, run_id: str, process: RuntimeProcess) -> None:
    """Record the process that runs the run (see :mod:`grange.metastore.liveness`)."""
    connection.execute(
        "UPDATE runs SET runtime_host = ?, runtime_pid = ?, runtime_started = ? "
        "WHERE flow = ? AND run_id = ?",
        (process.host, process.pid, process.started, flow, run_id),
    )


def run_id_exists(connection: Sql, flow: str, run_id: str) -> bool:
    query = "SELECT number FROM runs WHERE flow = ? AND run_id = ?"
    return connection.execute(query, (flow, run_id)).fetchone() is not None


def require_run(connection: Sql, flow: str, run_id: str) -> None:
    """Raise a :class:`MetadataError` unless the run exists."""
    if not run_id_exists(connection, flow, run_id):
        raise MetadataError(
            f"no run {flow}/{run_id} in the metadata store",
            fix=f"list the runs of {flow} to find the right id",
        )


_RUN_UPDATABLE = frozenset({"status", "finished_at", "heartbeat_at", "started_at"})


def update_run(
    connection: Sql,
    flow: str,
    run_id: str,
    *,
    values: Mapping[str, Any],
    only_running: bool = False,
) -> int:
    """Set ``values`` on a run (if ``only_running``, on a running run); rows changed."""
    unknown = set(values) - _RUN_UPDATABLE
    if unknown:
        raise ValueError(f"cannot update run columns {sorted(unknown)}")
    names = sorted(values)
    sql = f"UPDATE runs SET {', '.join(f'{n} = ?' for n in names)} WHERE flow = ? AND run_id = ?"
    params: list[Any] = [values[n] for n in names] + [flow, run_id]
    if only_running:
        sql += " AND status = ?"
        params.append(RUNNING)
    return connection.execute(sql, params).rowcount


def read_tags(connection: Sql, flow: str, run_ids: Sequence[str]) -> dict[str, RunTags]:
    """The tags of each of ``run_ids`` (runs without tags map to empty sets)."""
    found: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    for start in range(0, len(run_ids), _CHUNK):
        chunk = list(run_ids[start : start + _CHUNK])
        query = (
            f"SELECT run_id, tag, system FROM run_tags WHERE flow = ? AND run_id IN "
            f"({marks(len(chunk))})"
        )
        for run_id, tag, system in connection.execute(query, [flow, *chunk]):
            found[run_id][1 if system else 0].add(tag)
    return {r: RunTags(frozenset(found[r][0]), frozenset(found[r][1])) for r in run_ids}


def write_user_tags(
    connection: Sql,
    flow: str,
    run_id: str,
    old: frozenset[str],
    new: frozenset[str],
) -> None:
    """Replace a run's user tags ``old`` by ``new``."""
    gone = sorted(old - new)
    if gone:
        connection.execute(
            f"DELETE FROM run_tags WHERE flow = ? AND run_id = ? AND tag IN ({marks(len(gone))}) "
            "AND NOT system",
            [flow, run_id, *gone],
        )
    added = [(flow, run_id, t, False) for t in sorted(new - old)]
    if added:
        connection.executemany(
            "INSERT INTO run_tags (flow, run_id, tag, system) VALUES (?, ?, ?, ?)", added
        )


def list_flows(connection: Sql, tags: Sequence[str] = ()) -> list[FlowRow]:
    """All flows, or those with at least one run carrying every tag in ``tags``."""
    sql = "SELECT name, created_at FROM flows"
    params: list[Any] = []
    if tags:
        having = "SELECT first_tag.flow FROM run_tags AS first_tag WHERE first_tag.tag = ?"
        params.append(tags[0])
        for tag in tags[1:]:
            having += (
                " AND EXISTS (SELECT 1 FROM run_tags AS other WHERE other.flow = first_tag.flow"
                " AND other.run_id = first_tag.run_id AND other.tag = ?)"
            )
            params.append(tag)
        sql += f" WHERE name IN ({having})"
    sql += " ORDER BY name"
    return [FlowRow(name, created_at) for name, created_at in connection.execute(sql, params)]


def get_flow(connection: Sql, flow: str) -> FlowRow | None:
    query = "SELECT name, created_at FROM flows WHERE name = ?"
    row = connection.execute(query, (flow,)).fetchone()
    return FlowRow(row[0], row[1]) if row else None


def runs_query(
    flow: str,
    *,
    tags: Sequence[str] = (),
    status: str | None = None,
    limit: int | None = None,
    now: float,
    stale_after: float,
) -> tuple[str, list[Any]]:
    """The SELECT behind :func:`list_runs` and its parameters (tests read its plan).

    Newest first by the unique ``(flow, number)`` index; each tag is an
    ``IN`` over the ``(tag, flow, run_id)`` index, so filtering by a namespace
    never scans the runs of other users.
    """
    sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE flow = ?"
    params: list[Any] = [flow]
    for tag in tags:
        sql += " AND run_id IN (SELECT run_id FROM run_tags WHERE tag = ? AND flow = ?)"
        params += [tag, flow]
    if status is not None:
        # Running and crashed runs are both stored as running: which one a run
        # reads as (its process, its heartbeat) is decided on each row after.
        sql += " AND status = ?"
        params.append(RUNNING if status == CRASHED else status)
    sql += " ORDER BY number DESC"
    if limit is not None and status not in (RUNNING, CRASHED):
        sql += " LIMIT ?"
        params.append(limit)
    return sql, params


def list_runs(
    connection: Sql,
    flow: str,
    *,
    tags: Sequence[str] = (),
    status: str | None = None,
    limit: int | None = None,
    now: float,
    stale_after: float,
) -> list[RunRow]:
    """A flow's runs, newest first, carrying every tag in ``tags`` (user or system)."""
    sql, params = runs_query(
        flow, tags=tags, status=status, limit=limit, now=now, stale_after=stale_after
    )
    rows = connection.execute(sql, params).fetchall()
    if status in (RUNNING, CRASHED):
        rows = [r for r in rows if _reported(r, now=now, stale_after=stale_after) == status]
        rows = rows[:limit] if limit is not None else rows
    tag_map = read_tags(connection, flow, [r[1] for r in rows])
    return [_run_row(r, tag_map[r[1]], now=now, stale_after=stale_after) for r in rows]


def get_run(
    connection: Sql, flow: str, run_id: str, *, now: float, stale_after: float
) -> RunRow | None:
    query = f"SELECT {_RUN_COLUMNS} FROM runs WHERE flow = ? AND run_id = ?"
    row = connection.execute(query, (flow, run_id)).fetchone()
    if row is None:
        return None
    tags = read_tags(connection, flow, [run_id])[run_id]
    return _run_row(row, tags, now=now, stale_after=stale_after)


def run_status(
    connection: Sql, flow: str, run_id: str, *, now: float, stale_after: float
) -> str | None:
    """The reported status of a run (``None`` if there is no such run)."""
    query = (
        f"SELECT status, {_LAST_SEEN}, runtime, {_PROCESS} FROM runs WHERE flow = ? AND run_id = ?"
    )
    row = connection.execute(query, (flow, run_id)).fetchone()
    if row is None:
        return None
    stored, last_seen, runtime, host, pid, started = row
    alive = _alive(stored, runtime, host, pid, started)
    return reported_run_status(stored, last_seen, now=now, stale_after=stale_after, alive=alive)


def _alive(
    stored: str, runtime: str | None, host: str | None, pid: int | None, started: int | None
) -> bool | None:
    """Whether the run's runtime runs (None: this host cannot tell). A run on a cluster
    workflow is taken as running until its end is recorded (see CLUSTER_RUNTIMES)."""
    if stored != RUNNING:
        return None
    if runtime in CLUSTER_RUNTIMES:
        return True
    return is_alive(host, pid, started)


def _reported(row: Sequence[Any], *, now: float, stale_after: float) -> str:
    """The reported status of a row of ``_RUN_COLUMNS``: its process is checked
    only when it is stored as running (and was run on this host)."""
    stored, created_at, started_at, heartbeat_at = row[4], row[5], row[6], row[8]
    alive = _alive(stored, row[10], *row[12:15])
    last_seen = heartbeat_at or started_at or created_at
    return reported_run_status(stored, last_seen, now=now, stale_after=stale_after, alive=alive)


def _run_row(row: Sequence[Any], tags: RunTags, *, now: float, stale_after: float) -> RunRow:
    (flow, run_id, number, user, _stored, created_at, started_at, finished_at, heartbeat_at,
     origin_run_id, runtime, parameters, runtime_host, runtime_pid, _started) = row  # fmt: skip
    last_seen = heartbeat_at or started_at or created_at
    status = _reported(row, now=now, stale_after=stale_after)
    return RunRow(
        flow=flow,
        run_id=run_id,
        number=number,
        user=user,
        status=status,
        created_at=created_at,
        started_at=started_at,
        finished_at=last_seen if status == CRASHED else finished_at,
        heartbeat_at=heartbeat_at,
        origin_run_id=origin_run_id,
        runtime=runtime,
        parameters=from_json(parameters) or {},
        tags=tags,
        runtime_host=runtime_host,
        runtime_pid=runtime_pid,
    )
