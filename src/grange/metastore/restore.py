"""Putting runs rebuilt from the datastore into the index, and dropping unused ones.

Used by :mod:`grange.reindex` through :meth:`MetadataStore.restore_run
<grange.metastore.store.MetadataStore.restore_run>` and its neighbours; one
SQL text for every store, as in :mod:`grange.metastore.runs`.
"""

from __future__ import annotations

from grange.exceptions import MetadataError
from grange.metastore.dbapi import Sql, to_json
from grange.metastore.liveness import RuntimeProcess
from grange.metastore.rows import RunRow
from grange.metastore.runs import (
    INSERTED_COLUMNS,
    ensure_flow,
    next_number,
    record_process,
    run_id_exists,
)


def restore_run(connection: Sql, run: RunRow, process: RuntimeProcess | None = None) -> bool:
    """Insert a run rebuilt from the datastore, unless its id is known; whether inserted.

    A numeric run id keeps its number when it is free; any other run takes the
    next number of the counter, which afterwards is past every number in use,
    so that later runs never reuse an id.
    """
    if run_id_exists(connection, run.flow, run.run_id):
        return False
    ensure_flow(connection, run.flow, now=run.created_at)
    number = int(run.run_id) if run.run_id.isdigit() else None
    taken = "SELECT run_id FROM runs WHERE flow = ? AND number = ?"
    if number is None or connection.execute(taken, (run.flow, number)).fetchone() is not None:
        number = next_number(connection, run.flow)
    else:
        connection.execute(
            "INSERT INTO run_counters (flow, last_number) VALUES (?, ?) ON CONFLICT (flow) "
            "DO UPDATE SET last_number = CASE WHEN run_counters.last_number < "
            "excluded.last_number THEN excluded.last_number ELSE run_counters.last_number END",
            (run.flow, number),
        )
    # Two readers may restore the same run at once (PostgreSQL lets both pass the
    # check above): the second one's insert does nothing, and it reports so.
    inserted = connection.execute(
        f"INSERT INTO runs ({INSERTED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (run.flow, run.run_id, number, run.user, run.status, run.created_at, run.started_at,
         run.finished_at, run.heartbeat_at, run.origin_run_id, run.runtime,
         to_json(dict(run.parameters))),
    ).rowcount  # fmt: skip
    if not inserted:
        return False
    if process is not None:
        record_process(connection, run.flow, run.run_id, process)
    rows = [(run.flow, run.run_id, t, False) for t in sorted(run.tags.user - run.tags.system)]
    rows += [(run.flow, run.run_id, t, True) for t in sorted(run.tags.system)]
    if rows:
        connection.executemany(
            "INSERT INTO run_tags (flow, run_id, tag, system) VALUES (?, ?, ?, ?)", rows
        )
    return True


def discard_run(connection: Sql, flow: str, run_id: str) -> None:
    """Delete a run that was created but never used (no task registered)."""
    used = "SELECT 1 FROM tasks WHERE flow = ? AND run_id = ? LIMIT 1"
    if connection.execute(used, (flow, run_id)).fetchone() is not None:
        raise MetadataError(f"run {flow}/{run_id} has tasks; it cannot be discarded")
    connection.execute("DELETE FROM run_tags WHERE flow = ? AND run_id = ?", (flow, run_id))
    connection.execute("DELETE FROM runs WHERE flow = ? AND run_id = ?", (flow, run_id))


def run_ids(connection: Sql, flow: str) -> set[str]:
    """Every run id of ``flow`` the index knows."""
    rows = connection.execute("SELECT run_id FROM runs WHERE flow = ?", (flow,)).fetchall()
    return {r[0] for r in rows}
