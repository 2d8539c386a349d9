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
        fields = dict(payload or {})
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
            timestamp=_timestamp(full["timestamp"]),
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


def _timestamp(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EventError(
            f"the event timestamp must be POSIX seconds (a number), not {value!r}",
            fix="leave 'timestamp' out of the payload (the current time is used) or give "
            "seconds since 1970 as a number",
        )
    return float(value)
