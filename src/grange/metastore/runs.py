"""Queries on flows, runs and run tags, each on a connection the caller holds.

These functions do not open transactions; :class:`~grange.metastore.store.
MetadataStore` wraps each public call in exactly one. Reads take ``now`` and
``stale_after`` to report stale running runs as ``crashed`` (see
:mod:`grange.metastore.status`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from grange.exceptions import MetadataError
from grange.metastore import schema
from grange.metastore.engine import insert
from grange.metastore.rows import FlowRow, RunRow, RunTags
from grange.metastore.status import CRASHED, RUNNING, reported_run_status
from grange.metastore.tags import check_tag_count, check_tags

_runs, _tags = schema.runs, schema.run_tags
_last_seen = sa.func.coalesce(_runs.c.heartbeat_at, _runs.c.started_at, _runs.c.created_at)
_CHUNK = 500


def ensure_flow(connection: Connection, flow: str, *, now: float) -> None:
    """Register ``flow`` unless it is known already."""
    stmt = insert(connection, schema.flows).values(name=flow, created_at=now)
    connection.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))


def create_run(
    connection: Connection,
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
    user_tags = check_tags(tags) - system
    check_tag_count(user_tags)
    ensure_flow(connection, flow, now=now)
    counter = schema.run_counters
    first = insert(connection, counter).values(flow=flow, last_number=1)
    bump = first.on_conflict_do_update(
        index_elements=["flow"], set_={"last_number": counter.c.last_number + 1}
    ).returning(counter.c.last_number)
    number = int(connection.execute(bump).scalar_one())
    run_id = str(number) if run_id is None else run_id
    if run_id_exists(connection, flow, run_id):
        raise MetadataError(f"run {flow}/{run_id} exists already", fix="choose another run id")
    connection.execute(
        _runs.insert().values(
            flow=flow,
            run_id=run_id,
            number=number,
            user=user,
            status=RUNNING,
            created_at=now,
            started_at=now,
            heartbeat_at=now,
            origin_run_id=origin_run_id,
            runtime=runtime,
            parameters=dict(parameters),
        )
    )
    rows = [{"tag": t, "system": False} for t in sorted(user_tags)]
    rows += [{"tag": t, "system": True} for t in sorted(system)]
    if rows:
        connection.execute(_tags.insert().values(flow=flow, run_id=run_id), rows)
    return run_id


def run_id_exists(connection: Connection, flow: str, run_id: str) -> bool:
    query = sa.select(_runs.c.number).where(_runs.c.flow == flow, _runs.c.run_id == run_id)
    return connection.execute(query).first() is not None


def require_run(connection: Connection, flow: str, run_id: str) -> None:
    """Raise a :class:`MetadataError` unless the run exists."""
    if not run_id_exists(connection, flow, run_id):
        raise MetadataError(
            f"no run {flow}/{run_id} in the metadata store",
            fix=f"list the runs of {flow} to find the right id",
        )


def update_run(
    connection: Connection,
    flow: str,
    run_id: str,
    *,
    values: Mapping[str, Any],
    only_running: bool = False,
) -> int:
    """Set ``values`` on a run (if ``only_running``, on a running run); rows changed."""
    where = (_runs.c.flow == flow) & (_runs.c.run_id == run_id)
    if only_running:
        where &= _runs.c.status == RUNNING
    return connection.execute(_runs.update().where(where).values(**values)).rowcount


def read_tags(connection: Connection, flow: str, run_ids: Sequence[str]) -> dict[str, RunTags]:
    """The tags of each of ``run_ids`` (runs without tags map to empty sets)."""
    found: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    for start in range(0, len(run_ids), _CHUNK):
        chunk = run_ids[start : start + _CHUNK]
        query = sa.select(_tags.c.run_id, _tags.c.tag, _tags.c.system).where(
            _tags.c.flow == flow, _tags.c.run_id.in_(chunk)
        )
        for run_id, tag, system in connection.execute(query):
            found[run_id][1 if system else 0].add(tag)
    return {r: RunTags(frozenset(found[r][0]), frozenset(found[r][1])) for r in run_ids}


def write_user_tags(
    connection: Connection, flow: str, run_id: str, old: frozenset[str], new: frozenset[str]
) -> None:
    """Replace a run's user tags ``old`` by ``new``."""
    gone = sorted(old - new)
    if gone:
        connection.execute(
            _tags.delete().where(
                _tags.c.flow == flow,
                _tags.c.run_id == run_id,
                _tags.c.tag.in_(gone),
                _tags.c.system.is_(False),
            )
        )
    added = [{"tag": t, "system": False} for t in sorted(new - old)]
    if added:
        connection.execute(_tags.insert().values(flow=flow, run_id=run_id), added)


def list_flows(connection: Connection, tags: Sequence[str] = ()) -> list[FlowRow]:
    """All flows, or those with at least one run carrying every tag in ``tags``."""
    flows = schema.flows
    query = sa.select(flows.c.name, flows.c.created_at).order_by(flows.c.name)
    if tags:
        first = _tags.alias("first_tag")
        having = sa.select(first.c.flow).where(first.c.tag == tags[0])
        for tag in tags[1:]:
            other = _tags.alias()
            having = having.where(
                sa.exists().where(
                    other.c.flow == first.c.flow,
                    other.c.run_id == first.c.run_id,
                    other.c.tag == tag,
                )
            )
        query = query.where(flows.c.name.in_(having))
    return [FlowRow(name, created_at) for name, created_at in connection.execute(query)]


def get_flow(connection: Connection, flow: str) -> FlowRow | None:
    flows = schema.flows
    query = sa.select(flows.c.name, flows.c.created_at).where(flows.c.name == flow)
    row = connection.execute(query).first()
    return FlowRow(row.name, row.created_at) if row else None


def runs_query(
    flow: str,
    *,
    tags: Sequence[str] = (),
    status: str | None = None,
    limit: int | None = None,
    now: float,
    stale_after: float,
) -> sa.Select[Any]:
    """The SELECT behind :func:`list_runs` (tests look at its query plan).

    Newest first by the unique ``(flow, number)`` index; each tag is an
    ``IN`` over the ``(tag, flow, run_id)`` index, so filtering by a namespace
    never scans the runs of other users.
    """
    query = sa.select(_runs).where(_runs.c.flow == flow).order_by(_runs.c.number.desc())
    for tag in tags:
        query = query.where(
            _runs.c.run_id.in_(
                sa.select(_tags.c.run_id).where(_tags.c.tag == tag, _tags.c.flow == flow)
            )
        )
    if status is not None:
        query = query.where(_status_clause(status, now=now, stale_after=stale_after))
    if limit is not None:
        query = query.limit(limit)
    return query


def list_runs(
    connection: Connection,
    flow: str,
    *,
    tags: Sequence[str] = (),
    status: str | None = None,
    limit: int | None = None,
    now: float,
    stale_after: float,
) -> list[RunRow]:
    """A flow's runs, newest first, carrying every tag in ``tags`` (user or system)."""
    query = runs_query(
        flow, tags=tags, status=status, limit=limit, now=now, stale_after=stale_after
    )
    rows = connection.execute(query).all()
    tag_map = read_tags(connection, flow, [r.run_id for r in rows])
    return [_run_row(r, tag_map[r.run_id], now=now, stale_after=stale_after) for r in rows]


def get_run(
    connection: Connection, flow: str, run_id: str, *, now: float, stale_after: float
) -> RunRow | None:
    query = sa.select(_runs).where(_runs.c.flow == flow, _runs.c.run_id == run_id)
    row = connection.execute(query).first()
    if row is None:
        return None
    tags = read_tags(connection, flow, [run_id])[run_id]
    return _run_row(row, tags, now=now, stale_after=stale_after)


def run_status(
    connection: Connection, flow: str, run_id: str, *, now: float, stale_after: float
) -> str | None:
    """The reported status of a run (``None`` if there is no such run)."""
    query = sa.select(_runs.c.status, _last_seen).where(
        _runs.c.flow == flow, _runs.c.run_id == run_id
    )
    row = connection.execute(query).first()
    if row is None:
        return None
    return reported_run_status(row[0], row[1], now=now, stale_after=stale_after)


def _status_clause(status: str, *, now: float, stale_after: float) -> sa.ColumnElement[bool]:
    """SQL for "the run reads as ``status``", matching :func:`reported_run_status`."""
    cutoff = now - stale_after
    alive = _last_seen >= cutoff
    if status == RUNNING:
        return (_runs.c.status == RUNNING) & alive
    if status == CRASHED:
        return (_runs.c.status == RUNNING) & sa.not_(alive)
    return _runs.c.status == status


def _run_row(row: Row[Any], tags: RunTags, *, now: float, stale_after: float) -> RunRow:
    last_seen = row.heartbeat_at or row.started_at or row.created_at
    status = reported_run_status(row.status, last_seen, now=now, stale_after=stale_after)
    return RunRow(
        flow=row.flow,
        run_id=row.run_id,
        number=row.number,
        user=row.user,
        status=status,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=last_seen if status == CRASHED else row.finished_at,
        heartbeat_at=row.heartbeat_at,
        origin_run_id=row.origin_run_id,
        runtime=row.runtime,
        parameters=row.parameters or {},
        tags=tags,
    )
