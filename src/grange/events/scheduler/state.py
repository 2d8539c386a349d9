"""The scheduler's tables: its per-deployment state and the runs it started.

``scheduler_state`` holds JSON values by ``(deployment, key)``: a
deployment's cron cursor (``cron``), the events its AND is waiting for
(``pending``), each launch's events and process (``launch:<launch key>``);
the scheduler's own event cursor is under the deployment ``*``.

``deployment_runs`` holds one row per *launch key*: ``cron:<tick>``,
``events:<ids>`` or ``manual:<id>``. The row is inserted in the same
transaction that consumes what decided it (the cron cursor moving past the
tick, the event cursor moving past the event), and a key can be inserted
once: that is what makes a tick or a set of events start at most one run,
whatever crashes and restarts happen. Its ``status`` goes ``pending`` →
``launching`` → ``running`` → ``succeeded`` | ``failed``, or ``skipped``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from grange.metastore.dbapi import from_json, marks, to_json

if TYPE_CHECKING:
    from grange.metastore import MetadataStore
    from grange.metastore.dbapi import Sql

SCHEDULER = "*"  # the deployment name of the scheduler's own state
EVENT_CURSOR = "event_cursor"
CRON = "cron"
PENDING_EVENTS = "pending"
LAUNCH = "launch:"  # + launch key: the events it was given, its process

PENDING = "pending"
LAUNCHING = "launching"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"
ACTIVE = (LAUNCHING, RUNNING)
OPEN = (PENDING, LAUNCHING, RUNNING)


@dataclass(frozen=True)
class Launch:
    """One row of ``deployment_runs``."""

    deployment: str
    launch_key: str
    flow: str
    reason: str  # schedule | event | manual
    created_at: float
    status: str = PENDING
    run_id: str | None = None
    event_ids: tuple[str, ...] = ()
    scheduled_for: float | None = None
    message: str | None = None
    events: tuple[dict[str, Any], ...] = field(default=(), compare=False)  # not a column


_COLUMNS = (
    "deployment, launch_key, flow, run_id, reason, event_ids, scheduled_for, created_at, "
    "status, message"
)


def _launch(row: Sequence[Any]) -> Launch:
    return Launch(
        deployment=row[0],
        launch_key=row[1],
        flow=row[2],
        run_id=row[3],
        reason=row[4],
        event_ids=tuple(from_json(row[5]) or ()),
        scheduled_for=row[6],
        created_at=float(row[7]),
        status=row[8],
        message=row[9],
    )


class SchedulerState:
    """The scheduler's tables in a metadata store (each call one transaction, or the
    caller's connection)."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    @contextmanager
    def write(self) -> Iterator[Sql]:
        with self.store._write() as c:
            yield c

    @contextmanager
    def read(self) -> Iterator[Sql]:
        with self.store._read() as c:
            yield c

    # -- key/value state ------------------------------------------------------
    @staticmethod
    def get(c: Sql, deployment: str, key: str) -> Any:
        row = c.execute(
            "SELECT value FROM scheduler_state WHERE deployment = ? AND key = ?",
            (deployment, key),
        ).fetchone()
        return None if row is None else from_json(row[0])

    @staticmethod
    def put(c: Sql, deployment: str, key: str, value: Any, *, now: float) -> None:
        c.execute(
            "INSERT INTO scheduler_state (deployment, key, value, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (deployment, key) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            (deployment, key, to_json(value), now),
        )

    @staticmethod
    def drop(c: Sql, deployment: str, key: str) -> None:
        c.execute("DELETE FROM scheduler_state WHERE deployment = ? AND key = ?", (deployment, key))

    def value(self, deployment: str, key: str) -> Any:
        with self.read() as c:
            return self.get(c, deployment, key)

    # -- launches -------------------------------------------------------------
    @staticmethod
    def insert(c: Sql, launch: Launch) -> bool:
        """Record a launch decision; False if its key was decided already."""
        cursor = c.execute(
            f"INSERT INTO deployment_runs ({_COLUMNS}) VALUES ({marks(10)}) "
            "ON CONFLICT (deployment, launch_key) DO NOTHING",
            (launch.deployment, launch.launch_key, launch.flow, launch.run_id, launch.reason,
             to_json(list(launch.event_ids)), launch.scheduled_for, launch.created_at,
             launch.status, launch.message),
        )  # fmt: skip
        return cursor.rowcount > 0

    @staticmethod
    def update(c: Sql, deployment: str, key: str, **values: Any) -> None:
        names = sorted(values)
        sets = ", ".join(f"{name} = ?" for name in names)
        c.execute(
            f"UPDATE deployment_runs SET {sets} WHERE deployment = ? AND launch_key = ?",
            (*(values[n] for n in names), deployment, key),
        )

    def set(self, deployment: str, key: str, **values: Any) -> None:
        with self.write() as c:
            self.update(c, deployment, key, **values)

    def launches(
        self, *, statuses: Sequence[str] = (), deployment: str | None = None, limit: int = 0
    ) -> list[Launch]:
        """Launches, oldest first (newest first with a ``limit``)."""
        where, args = [], []
        if statuses:
            where.append(f"status IN ({marks(len(statuses))})")
            args += list(statuses)
        if deployment is not None:
            where.append("deployment = ?")
            args.append(deployment)
        sql = f"SELECT {_COLUMNS} FROM deployment_runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        order = "DESC" if limit else "ASC"
        sql += f" ORDER BY created_at {order}, scheduled_for {order}, launch_key {order}"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self.read() as c:
            return [_launch(row) for row in c.execute(sql, tuple(args)).fetchall()]

    def launch(self, deployment: str, key: str) -> Launch | None:
        with self.read() as c:
            row = c.execute(
                f"SELECT {_COLUMNS} FROM deployment_runs WHERE deployment = ? AND launch_key = ?",
                (deployment, key),
            ).fetchone()
        return None if row is None else _launch(row)
