"""The ``events`` table of a metadata database: every event received, in arrival order.

:class:`EventStore` runs on a :class:`~grange.metastore.MetadataStore`'s own
transactions, so it works wherever the index does (SQLite through ``sqlite3``
or SQLAlchemy, PostgreSQL) and costs no import of SQLAlchemy on a local store.
Each statement is written once for both databases (see
:mod:`grange.metastore.dbapi`).

Guarantees: an event id is recorded once. :meth:`EventStore.record` inserts
with ``ON CONFLICT (event_id) DO NOTHING`` against the table's unique key, so
the same event delivered twice, or by two processes at once, leaves one row,
and the second call says so (``False``). ``seq`` orders events as they were
recorded: a reader that remembers the last ``seq`` it handled
(:meth:`EventStore.after`) sees every later event once.

Events live in the index only (they have no record in the datastore): a local
``metadata.db`` rebuilt from the datastore's records starts with none.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grange.events.model import EventRecord
from grange.exceptions import EventError
from grange.metastore.dbapi import from_json, to_json
from grange.metastore.retry import retrying

if TYPE_CHECKING:
    from grange.metastore import MetadataStore

DEFAULT_LIMIT = 100
_COLUMNS = 'seq, event_id, name, payload, timestamp, received_at, source, "user", host'
_INSERT = (
    'INSERT INTO events (event_id, name, payload, timestamp, received_at, source, "user", host) '
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING"
)


class EventStore:
    """The events recorded in ``metadata``'s database."""

    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata

    def describe(self) -> str:
        """Which database, as it may be printed (a file's path, or a URL without password)."""
        path = getattr(self.metadata, "path", None)
        if path is not None:
            return f"the metadata database {path}"
        engine = getattr(self.metadata, "engine", None)
        if engine is not None:
            from grange.metastore.engine import shown_url

            return f"the metadata database {shown_url(engine)}"
        return "the metadata database"

    @retrying
    def record(self, event: EventRecord) -> bool:
        """Record ``event``; ``False`` if an event with its id was recorded already
        (then nothing changes: the first one's payload and time stay)."""
        with self.metadata._write() as c:
            cursor = c.execute(
                _INSERT,
                (
                    event.event_id,
                    event.name,
                    to_json(dict(event.payload)),
                    event.timestamp,
                    event.received_at,
                    event.source,
                    event.user,
                    event.host,
                ),
            )
            return bool(cursor.rowcount == 1)

    @retrying
    def get(self, event_id: str) -> EventRecord | None:
        """The event recorded with ``event_id``, if any."""
        with self.metadata._read() as c:
            row = c.execute(f"SELECT {_COLUMNS} FROM events WHERE event_id = ?", (event_id,))
            found = row.fetchone()
        return None if found is None else _record(found)

    @retrying
    def list(
        self, name: str | None = None, *, limit: int = DEFAULT_LIMIT, before_seq: int | None = None
    ) -> list[EventRecord]:
        """The latest events (of ``name``), newest first, at most ``limit``; with
        ``before_seq``, those recorded before that one (the next page)."""
        where: builtins.list[str] = []
        args: builtins.list[Any] = []
        if name is not None:
            where.append("name = ?")
            args.append(name)
        if before_seq is not None:
            where.append("seq < ?")
            args.append(before_seq)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        with self.metadata._read() as c:
            rows = c.execute(
                f"SELECT {_COLUMNS} FROM events {clause}ORDER BY seq DESC LIMIT ?",
                (*args, int(limit)),
            ).fetchall()
        return [_record(row) for row in rows]

    @retrying
    def after(self, seq: int, limit: int = DEFAULT_LIMIT) -> builtins.list[EventRecord]:
        """The events recorded after ``seq`` (0: from the first), in arrival order."""
        with self.metadata._read() as c:
            rows = c.execute(
                f"SELECT {_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (int(seq), int(limit)),
            ).fetchall()
        return [_record(row) for row in rows]

    @retrying
    def last_seq(self) -> int:
        """The ``seq`` of the latest event recorded (0: none yet)."""
        with self.metadata._read() as c:
            row = c.execute("SELECT MAX(seq) FROM events").fetchone()
        return int(row[0] or 0)


def _record(row: Any) -> EventRecord:
    seq, event_id, name, payload, timestamp, received_at, source, user, host = row
    return EventRecord(
        seq=int(seq),
        event_id=event_id,
        name=name,
        payload=from_json(payload) or {},
        timestamp=float(timestamp),
        received_at=float(received_at),
        source=source,
        user=user,
        host=host,
    )


def open_event_store(
    profile: str | None = None,
    *,
    datastore: str | None = None,
    datastore_root: str | None = None,
    metadata: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    create: bool = True,
) -> EventStore:
    """The events of the profile in force: the metadata database a run started here
    would use (``metadata`` / ``GRANGE_METADATA``, else the profile's, else the
    SQLite index under the datastore root: ``datastore_root`` /
    ``GRANGE_DATASTORE_ROOT``, else the profile's, else the nearest ``.grange/``).
    ``profile`` is ``--profile`` (else ``GRANGE_PROFILE`` / the default profile).

    A missing local index is rebuilt from the datastore's records first, as a run
    would, so that an event recorded before the first run here never leaves an
    index that lacks the runs stored already."""
    from grange.config import resolve
    from grange.datastore import resolve_location

    env = os.environ if env is None else env
    flags = {"datastore": datastore, "datastore_root": datastore_root, "metadata": metadata}
    settings = resolve(profile, env, flags=flags)
    kind = settings.datastore.value if settings.datastore.source != "default" else None
    location = resolve_location(
        Path.cwd() if cwd is None else cwd, settings.datastore_root.value, env, kind=kind
    )
    url = str(settings.metadata.value)
    if url == "local":
        from grange.metastore.sqlite_file import SQLITE_FILE
        from grange.reindex import open_local_index

        if not create and not (location.index_dir / SQLITE_FILE).is_file():
            raise EventError(
                f"no grange store at {location} (no {SQLITE_FILE} yet)",
                fix="run a flow or publish an event here first, or choose the store: "
                "--datastore-root PATH, --metadata URL or --profile NAME",
            )
        blobs = location.open(s3=settings.s3_overrides() or None)
        return EventStore(open_local_index(location.make_index_dir(), blobs))
    from grange.metastore import MetadataStore

    return EventStore(MetadataStore.from_url(url))
