"""One scheduler per metadata database: a lease row in ``scheduler_leases``.

A scheduler takes the lease ``scheduler`` when it starts and renews its
heartbeat as it works. A second one is refused, with the holder's host and
pid in the message. A lease is taken over when its holder is gone: on this
host, when its pid no longer runs (checked against the pid's start time, so
a reused pid does not fool it); elsewhere, when its heartbeat is older than
:data:`STALE_AFTER` seconds.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grange.exceptions import CommandError
from grange.metastore.liveness import is_alive, start_time, this_host

if TYPE_CHECKING:
    from grange.metastore import MetadataStore

LEASE = "scheduler"
STALE_AFTER = 60.0  # seconds without a heartbeat; the loop renews it every few seconds


@dataclass(frozen=True)
class Holder:
    holder: str  # "<host id>|<pid>|<start time>": unique, and checkable on its host
    host: str  # the hostname, for people
    pid: int
    acquired_at: float
    heartbeat_at: float

    def alive(self, now: float, stale_after: float) -> bool:
        host_id, _, rest = self.holder.partition("|")
        pid_text, _, started_text = rest.partition("|")
        known = is_alive(
            host_id or None,
            int(pid_text) if pid_text.isdigit() else None,
            int(started_text) if started_text.isdigit() else None,
        )
        if known is not None:
            return known
        return now - self.heartbeat_at < stale_after


def me() -> tuple[str, str, int]:
    pid = os.getpid()
    return f"{this_host() or ''}|{pid}|{start_time(pid) or ''}", socket.gethostname(), pid


class Lease:
    """This process's hold on the scheduler lease of ``store``."""

    def __init__(self, store: MetadataStore, *, stale_after: float = STALE_AFTER) -> None:
        self.store = store
        self.stale_after = stale_after
        self.holder, self.host, self.pid = me()

    def holder_row(self) -> Holder | None:
        with self.store._read() as c:
            return _row(c)

    def acquire(self, now: float) -> Holder | None:
        """Take the lease; the stale holder it took over from, if any. Refused (a
        :class:`CommandError`) while another scheduler holds it."""
        with self.store._write() as c:
            held = _row(c)
            if held is not None and held.holder != self.holder:
                if held.alive(now, self.stale_after):
                    raise CommandError(
                        f"another scheduler runs on this metadata database: pid {held.pid} on "
                        f"host {held.host}, since {_when(held.acquired_at)} (last seen "
                        f"{max(0, now - held.heartbeat_at):.0f} s ago)",
                        fix="stop that one first (Ctrl-C or kill " + str(held.pid) + "); one "
                        "scheduler per store runs every deployment",
                    )
                c.execute("DELETE FROM scheduler_leases WHERE name = ?", (LEASE,))
            elif held is not None:
                c.execute("DELETE FROM scheduler_leases WHERE name = ?", (LEASE,))
                held = None
            c.execute(
                "INSERT INTO scheduler_leases (name, holder, host, pid, acquired_at, heartbeat_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (LEASE, self.holder, self.host, self.pid, now, now),
            )
            return held

    def renew(self, now: float) -> None:
        """Record that this scheduler is alive; an error if it lost the lease."""
        with self.store._write() as c:
            cursor = c.execute(
                "UPDATE scheduler_leases SET heartbeat_at = ? WHERE name = ? AND holder = ?",
                (now, LEASE, self.holder),
            )
            if cursor.rowcount == 0:
                held = _row(c)
                who = f"pid {held.pid} on host {held.host}" if held else "nobody"
                raise CommandError(
                    f"this scheduler lost its lease (now held by {who}): it stops so that "
                    "no run starts twice",
                    fix="start it again once the other scheduler has stopped",
                )

    def release(self) -> None:
        with self.store._write() as c:
            c.execute(
                "DELETE FROM scheduler_leases WHERE name = ? AND holder = ?", (LEASE, self.holder)
            )


def _row(c: object) -> Holder | None:
    row = c.execute(  # type: ignore[attr-defined]
        "SELECT holder, host, pid, acquired_at, heartbeat_at FROM scheduler_leases WHERE name = ?",
        (LEASE,),
    ).fetchone()
    if row is None:
        return None
    return Holder(str(row[0]), str(row[1]), int(row[2]), float(row[3]), float(row[4]))


def _when(at: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")
