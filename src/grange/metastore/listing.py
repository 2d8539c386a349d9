"""Reads for pages over many runs and tasks: one page of runs, counts, aggregates.

The web UI (``grange ui``) shows a flow's runs a page at a time and a run's
tasks by step; with 10,000 runs or a 1,000-way foreach, reading every row into
Python for each page (or each second of a live page) would not do. Each
function here is one read transaction of a few SQL statements that let the
database count, group and cut (``LIMIT``/``OFFSET`` on the ``(flow, number)``
index), with the same SQL text for SQLite and PostgreSQL
(:mod:`grange.metastore.dbapi`).

Statuses are reported as every read reports them (a run stored as running
whose runtime is gone reads ``crashed``; :mod:`grange.metastore.status`), so
a filter on ``running`` or ``crashed`` looks at the runs stored as running
(few) and decides each one, as :func:`grange.metastore.runs.list_runs` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grange.metastore import runs
from grange.metastore.rows import RunRow
from grange.metastore.status import CRASHED, RUNNING, reported_attempt_status
from grange.metastore.store import MetadataStore


@dataclass(frozen=True)
class FlowSummary:
    """A flow, how many runs it has (in the namespace asked for) and its newest run."""

    name: str
    runs: int
    last: RunRow | None


@dataclass(frozen=True)
class RunPage:
    """One page of a flow's runs, newest first, and how many match in all."""

    rows: list[RunRow]
    total: int


@dataclass(frozen=True)
class StepCounts:
    """The tasks of one step of a run by status, and when the step ran."""

    step: str
    counts: dict[str, int] = field(default_factory=dict)
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Span:
    """One attempt of a task on the timeline."""

    step: str
    task_id: str
    attempt: int
    started_at: float | None
    finished_at: float | None
    status: str


def _tag_filter(flow_column: str, run_column: str, tags: Sequence[str]) -> tuple[str, list[Any]]:
    sql, params = "", []
    for tag in tags:
        sql += (
            f" AND {run_column} IN (SELECT run_id FROM run_tags WHERE tag = ? AND flow = "
            f"{flow_column})"
        )
        params.append(tag)
    return sql, params


def flow_summaries(store: MetadataStore, *, tags: Sequence[str] = ()) -> list[FlowSummary]:
    """Every flow with a run carrying all ``tags``: its run count and newest run."""
    where, params = _tag_filter("runs.flow", "runs.run_id", tags)
    sql = f"SELECT flow, count(*), max(number) FROM runs WHERE 1 = 1{where} GROUP BY flow"
    now = store._clock()
    out = []
    with store._read() as c:
        counted = list(c.execute(sql, params))
        for flow, count, number in sorted(counted):
            row = c.execute(
                f"SELECT {runs._RUN_COLUMNS} FROM runs WHERE flow = ? AND number = ?",
                (flow, number),
            ).fetchone()
            last = None
            if row is not None:
                tag_map = runs.read_tags(c, flow, [row[1]])
                last = runs._run_row(row, tag_map[row[1]], now=now, stale_after=store.stale_after)
            out.append(FlowSummary(flow, int(count), last))
    return out


def page_runs(
    store: MetadataStore,
    flow: str,
    *,
    tags: Sequence[str] = (),
    status: str | None = None,
    user: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> RunPage:
    """Runs ``offset`` to ``offset + limit`` of ``flow``, newest first, that carry every
    tag in ``tags``, have ``status`` (as reported) and were started by ``user``."""
    where = " WHERE flow = ?"
    params: list[Any] = [flow]
    for tag in tags:  # each an IN over the (tag, flow, run_id) index
        where += " AND run_id IN (SELECT run_id FROM run_tags WHERE tag = ? AND flow = ?)"
        params += [tag, flow]
    if user is not None:
        where += ' AND "user" = ?'
        params.append(user)
    if status is not None:
        where += " AND status = ?"
        params.append(RUNNING if status == CRASHED else status)
    now = store._clock()
    with store._read() as c:
        if status in (RUNNING, CRASHED):  # decided row by row: runs stored as running
            sql = f"SELECT {runs._RUN_COLUMNS} FROM runs{where} ORDER BY number DESC"
            found = [
                r
                for r in c.execute(sql, params).fetchall()
                if runs._reported(r, now=now, stale_after=store.stale_after) == status
            ]
            total, chosen = len(found), found[offset : offset + limit]
        else:
            total = int(c.execute(f"SELECT count(*) FROM runs{where}", params).fetchone()[0])
            sql = (
                f"SELECT {runs._RUN_COLUMNS} FROM runs{where} ORDER BY number DESC LIMIT ? OFFSET ?"
            )
            chosen = list(c.execute(sql, [*params, limit, offset]).fetchall())
        tag_map = runs.read_tags(c, flow, [r[1] for r in chosen])
        rows = [
            runs._run_row(r, tag_map[r[1]], now=now, stale_after=store.stale_after) for r in chosen
        ]
    return RunPage(rows, total)


def step_counts(store: MetadataStore, flow: str, run_id: str) -> list[StepCounts]:
    """The tasks of each step of a run by reported status, with the step's first start
    and last end; in the order the steps were registered."""
    now = store._clock()
    with store._read() as c:
        run_status = runs.run_status(c, flow, run_id, now=now, stale_after=store.stale_after)
        order = [
            r[0]
            for r in c.execute(
                "SELECT step FROM steps WHERE flow = ? AND run_id = ? ORDER BY created_at, step",
                (flow, run_id),
            )
        ]
        counts: dict[str, dict[str, int]] = {step: {} for step in order}
        for step, status, count in c.execute(
            "SELECT step, status, count(*) FROM tasks WHERE flow = ? AND run_id = ? "
            "GROUP BY step, status",
            (flow, run_id),
        ):
            shown = reported_attempt_status(status, run_status=run_status or RUNNING)
            per = counts.setdefault(step, {})
            per[shown] = per.get(shown, 0) + int(count)
        times = {
            step: (first, last)
            for step, first, last in c.execute(
                "SELECT step, min(started_at), max(coalesce(finished_at, heartbeat_at, "
                "started_at)) FROM attempts WHERE flow = ? AND run_id = ? GROUP BY step",
                (flow, run_id),
            )
        }
    found = [StepCounts(step, per, *times.get(step, (None, None))) for step, per in counts.items()]
    # in the order they started (steps registered in one batch share a creation time)
    started = {step: i for i, step in enumerate(order)}
    found.sort(key=lambda s: (s.started_at is None, s.started_at or 0.0, started.get(s.step, 0)))
    return found


_PUBLIC = "substr(step, 1, 1) <> '_'"  # not grange's own steps (_parameters)


def spans(store: MetadataStore, flow: str, run_id: str, *, limit: int) -> tuple[list[Span], int]:
    """The first ``limit`` attempts of a run's steps by start time (grange's own
    ``_parameters`` left out), and how many there are."""
    now = store._clock()
    with store._read() as c:
        run_status = runs.run_status(c, flow, run_id, now=now, stale_after=store.stale_after)
        total = int(
            c.execute(
                f"SELECT count(*) FROM attempts WHERE flow = ? AND run_id = ? AND {_PUBLIC}",
                (flow, run_id),
            ).fetchone()[0]
        )
        rows = c.execute(
            "SELECT step, task_id, attempt, started_at, coalesce(finished_at, heartbeat_at), "
            f"status FROM attempts WHERE flow = ? AND run_id = ? AND {_PUBLIC} "
            "ORDER BY started_at, step, task_id, attempt LIMIT ?",
            (flow, run_id, limit),
        ).fetchall()
    found = [
        Span(
            s, t, int(a), start, end, reported_attempt_status(st, run_status=run_status or RUNNING)
        )
        for s, t, a, start, end, st in rows
    ]
    return found, total


def newest_run_number(store: MetadataStore, flow: str) -> int:
    """The number of the flow's newest run (0 without runs): a cheap change signal."""
    with store._read() as c:
        row = c.execute("SELECT max(number) FROM runs WHERE flow = ?", (flow,)).fetchone()
    return int(row[0] or 0) if row else 0
