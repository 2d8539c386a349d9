"""One event, as grange records and sends it: :class:`EventRecord` and its wire body.

The wire format is Metaflow's (what an Argo Events webhook and a ``grange
scheduler`` both receive)::

    {"name": NAME, "payload": {"name": NAME, "id": ID, "timestamp": INT_SECONDS, ...}}

The payload holds the user's fields next to ``name``, ``id`` and ``timestamp``;
a user ``id`` or ``timestamp`` wins, as in Metaflow (a run's end event sets
``id`` to its end task's pathspec), but ``name`` is always the event's name
(Argo Events sensors match on ``payload.name``). The event's id is ``payload["id"]``: a
store records each id once.

What the events endpoint accepts besides (CloudEvents) is read by
:mod:`grange.events.bodies`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from grange.exceptions import EventError

if TYPE_CHECKING:
    from grange.decorators.triggers import TriggerEvent

#: The longest event name accepted (a DNS name's limit; Argo Events keys on names).
MAX_NAME_LENGTH = 253
NAME_RULE = (
    f"an event name is 1 to {MAX_NAME_LENGTH} printable characters, without spaces "
    "at either end (e.g. 'new_data' or 'metaflow.TrainFlow.end')"
)
#: Sources of events, as the ``events.source`` column says them.
SOURCES = ("publish", "http", "cli", "auto", "cloudevents")
#: The payload field that marks a run's end event (Metaflow's).
AUTO_GENERATED = "auto-generated-by-metaflow"
#: The largest event, in bytes of its wire body (:func:`wire`), wherever it goes: the
#: endpoint refuses larger requests (413) and publishing refuses larger events.
MAX_EVENT_BYTES = 1024 * 1024
#: The range of event timestamps (POSIX seconds): 1970-01-01 to 9999-12-31 UTC.
MIN_TIMESTAMP = 0
MAX_TIMESTAMP = 253402300799
TIMESTAMP_RULE = (
    "an event timestamp is POSIX seconds from 0 (1970-01-01) to "
    f"{MAX_TIMESTAMP} (9999-12-31 UTC): leave 'timestamp' out of the payload "
    "(the current time is used) or give seconds since 1970"
)


@dataclass(frozen=True)
class EventRecord:
    """One event as a store holds it.

    ``seq`` is its place in the store's arrival order (``None`` until recorded);
    ``payload`` the whole payload (with ``name``, ``id`` and ``timestamp``);
    ``timestamp`` when the event happened (the publisher's clock, POSIX
    seconds), ``received_at`` when the store recorded it; ``source`` one of
    :data:`SOURCES`; ``user`` and ``host`` who published it, when known.
    """

    seq: int | None
    event_id: str
    name: str
    payload: Mapping[str, Any]
    timestamp: float
    received_at: float
    source: str
    user: str | None = None
    host: str | None = None

    @classmethod
    def new(
        cls,
        name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        source: str = "publish",
        event_id: str | None = None,
        user: str | None = None,
        host: str | None = None,
        now: float | None = None,
    ) -> EventRecord:
        """A new event named ``name``: a fresh id (uuid4; ``event_id`` or a payload
        ``id`` instead), the current time in whole seconds, and ``payload``'s fields.
        ``user`` and ``host`` default to this process's."""
        check_name(name)
        now = time.time() if now is None else now
        fields = payload_fields(payload)
        check_payload(fields)
        if fields.get("name", name) != name:  # Argo sensors match on payload.name
            raise EventError(
                f"the payload field 'name' ({fields['name']!r}) is not the event's name ({name!r})",
                fix="the payload's 'name' is the event's name, which sensors match on: "
                "rename that field",
            )
        if event_id is None and "id" not in fields:
            import uuid

            event_id = str(uuid.uuid4())
        full: dict[str, Any] = {"name": name, "id": event_id, "timestamp": int(now), **fields}
        if event_id is not None:
            full["id"] = event_id
        return cls(
            seq=None,
            event_id=event_id_of(full["id"]),
            name=name,
            payload=full,
            timestamp=check_timestamp(full["timestamp"]),
            received_at=now,
            source=source,
            user=current_user() if user is None else user,
            host=current_host() if host is None else host,
        )

    def body(self) -> dict[str, Any]:
        """The HTTP body of this event (Metaflow's wire format)."""
        return {"name": self.name, "payload": dict(self.payload)}

    def to_dict(self) -> dict[str, Any]:
        """Every field, for JSON output (``grange events list --json``, ``GET /events``)."""
        return {
            "seq": self.seq,
            "id": self.event_id,
            "name": self.name,
            "timestamp": self.timestamp,
            "received_at": self.received_at,
            "source": self.source,
            "user": self.user,
            "host": self.host,
            "payload": dict(self.payload),
        }

    def to_trigger_event(self) -> TriggerEvent:
        """This event as what started a run (``current.trigger``): a run's end event
        (``metaflow.<flow>.end`` marked ``auto-generated-by-metaflow``) is of type
        ``run``, its id the upstream end task's pathspec; any other is an ``event``."""
        from grange.decorators.triggers import TriggerEvent

        if is_run_end(self.name, self.payload):
            pathspec = self.payload.get("pathspec") or self.event_id
            return TriggerEvent(
                name=self.name,
                id=str(pathspec),
                timestamp=self.timestamp,
                type="run",
                payload=dict(self.payload),
            )
        return TriggerEvent(
            name=self.name,
            id=self.event_id,
            timestamp=self.timestamp,
            type="event",
            payload=dict(self.payload),
        )

    def with_seq(self, seq: int | None) -> EventRecord:
        return replace(self, seq=seq)


def is_run_end(name: str, payload: Mapping[str, Any]) -> bool:
    """Whether an event is a run's end (Metaflow's mark; Metaflow itself sends it as
    the string ``"True"``, grange as ``true``)."""
    marked = payload.get(AUTO_GENERATED)
    return name.endswith(".end") and (marked is True or str(marked).lower() == "true")


def check_name(name: Any) -> str:
    """``name`` if it is a valid event name, else an :class:`EventError` saying the rule."""
    if not isinstance(name, str):
        raise EventError(
            f"the event name must be a string, not {type(name).__name__}", fix=NAME_RULE
        )
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable() or name != name.strip():
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise EventError(f"invalid event name {shown!r}", fix=NAME_RULE)
    return name


def payload_fields(payload: Any) -> dict[str, Any]:
    """``payload`` as a dict of fields (``None``: none), or an :class:`EventError`."""
    if payload is None:
        return {}
    if not isinstance(payload, Mapping):
        raise EventError(
            f"the event payload must be a dict of fields, not {type(payload).__name__} "
            f"{_shown(payload)}",
            fix="give a dict, e.g. payload={'date': '2024-06-01'}",
        )
    return dict(payload)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def wire(body: Mapping[str, Any]) -> bytes:
    """An event's body as sent over HTTP (compact UTF-8 JSON): its size is what
    :data:`MAX_EVENT_BYTES` limits."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def check_size(record: EventRecord) -> None:
    """Refuse an event larger than :data:`MAX_EVENT_BYTES` (wherever it goes)."""
    size = len(wire(record.body()))
    if size > MAX_EVENT_BYTES:
        raise EventError(
            f"event {record.name!r} is {size} bytes, more than the limit of "
            f"{MAX_EVENT_BYTES} bytes (1 MiB)",
            fix="an event is a message, not a data set: send a reference to the data "
            "(a path, a run's pathspec) instead",
        )


def check_payload(payload: Mapping[str, Any]) -> None:
    """Refuse a payload that JSON cannot carry, naming the field."""
    for key, value in payload.items():
        if not isinstance(key, str):
            raise EventError(
                f"the event payload has a key {key!r} of type {type(key).__name__}",
                fix="payload keys must be strings",
            )
        try:
            json.dumps(value, allow_nan=False)
        except RecursionError:
            raise EventError(
                f"the event payload field {key!r} is nested too deeply to be sent as JSON",
                fix="flatten it (an event is a message: send a reference to the data)",
            ) from None
        except (TypeError, ValueError) as err:
            raise EventError(
                f"the event payload field {key!r} cannot be sent as JSON: {err}",
                fix="give it a string, a number, a boolean, None, or a list or dict of those",
            ) from None


def current_user() -> str:
    """The user grange records for this process (``GRANGE_USER``, else the login name)."""
    from grange.parameters import current_username

    return current_username()


def current_host() -> str:
    import socket

    return socket.gethostname()


def event_id_of(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value) == "":
        raise EventError(
            f"the event id must be a non-empty string, not {value!r}",
            fix="leave 'id' out of the payload (a new one is made) or give a string",
        )
    return str(value)


def check_timestamp(value: Any) -> float:
    """``value`` as a timestamp if it is POSIX seconds within 1970..9999, else an
    :class:`EventError` saying the rule."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EventError(
            f"the event timestamp must be POSIX seconds (a number), not {_shown(value)}",
            fix=TIMESTAMP_RULE,
        )
    if not (math.isfinite(value) and MIN_TIMESTAMP <= value <= MAX_TIMESTAMP):
        raise EventError(f"the event timestamp {value!r} is out of range", fix=TIMESTAMP_RULE)
    return float(value)


def same_event(a: EventRecord, b: EventRecord) -> bool:
    """Whether two records with one id are the same event: the same name and payload
    (its ``timestamp`` aside: publishing an event again makes a new one)."""

    def fields(record: EventRecord) -> dict[str, Any]:
        return {k: v for k, v in record.payload.items() if k != "timestamp"}

    return a.name == b.name and fields(a) == fields(b)


def check_same(new: EventRecord, stored: EventRecord | None) -> None:
    """Refuse ``new``, whose id was recorded already, when it is not the event
    recorded with that id (an id reused for another event is a mistake: it
    would be dropped)."""
    if stored is None or same_event(new, stored):
        return
    what = "name" if new.name != stored.name else "payload"
    raise EventError(
        f"the event id {new.event_id!r} was used already, by event {stored.name!r} "
        f"with a different {what}: this event was not recorded",
        fix="give each event its own id (leave the id out: a new one is made); an id "
        "is reused only to publish the same event again, which records it once",
    )
