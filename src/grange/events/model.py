"""One event, as grange records and sends it: :class:`EventRecord`, its wire body, and
the bodies the events endpoint accepts.

The wire format is Metaflow's (what an Argo Events webhook and a ``grange
scheduler`` both receive)::

    {"name": NAME, "payload": {"name": NAME, "id": ID, "timestamp": INT_SECONDS, ...}}

The payload holds the user's fields next to ``name``, ``id`` and ``timestamp``;
a user field of the same name wins, as in Metaflow (a run's end event sets
``id`` to its end task's pathspec). The event's id is ``payload["id"]``: a
store records each id once.

The endpoint also accepts CloudEvents (parsed with the ``cloudevents`` SDK), in
structured mode (``Content-Type: application/cloudevents+json``) and in binary
mode (``ce-*`` headers, the body being the data): ``type`` is the event's name,
``id`` its id, ``time`` its timestamp (else the time it arrived) and ``data``
(a JSON object) its payload.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from grange.decorators.triggers import TriggerEvent
from grange.exceptions import EventError

#: The longest event name accepted (a DNS name's limit; Argo Events keys on names).
MAX_NAME_LENGTH = 253
NAME_RULE = (
    f"an event name is 1 to {MAX_NAME_LENGTH} printable characters, without spaces "
    "at either end (e.g. 'new_data' or 'metaflow.TrainFlow.end')"
)
#: Sources of events, as the ``events.source`` column says them.
SOURCES = ("publish", "http", "cli", "auto", "cloudevents")
CLOUDEVENTS_JSON = "application/cloudevents+json"
CLOUDEVENTS_BATCH = "application/cloudevents-batch+json"
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
        if event_id is None and "id" not in fields:
            import uuid

            event_id = str(uuid.uuid4())
        full: dict[str, Any] = {"name": name, "id": event_id, "timestamp": int(now), **fields}
        if event_id is not None:
            full["id"] = event_id
        return cls(
            seq=None,
            event_id=_event_id(full["id"]),
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


def _event_id(value: Any) -> str:
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


# -- bodies received over HTTP -------------------------------------------------


@dataclass(frozen=True)
class Received:
    """What an HTTP request carried: its headers (lower-case names) and body."""

    headers: Mapping[str, str]
    body: bytes
    client: str | None = None  # the peer's address
    extra: Mapping[str, Any] = field(default_factory=dict)


def parse_http(received: Received, *, now: float | None = None) -> EventRecord:
    """The event an HTTP request to ``POST /events`` carries, or an :class:`EventError`
    naming what is wrong (the server answers it with 400).

    Metaflow's body (``{"name", "payload"}``, as ``application/json``), or a
    CloudEvent in structured (``application/cloudevents+json``, or a JSON body
    with ``specversion``) or binary mode (``ce-*`` headers). The publisher's
    user and host come from the ``Grange-User``/``Grange-Host`` headers grange
    sends, else the host is the peer's address.
    """
    now = time.time() if now is None else now
    headers = {k.lower(): v for k, v in received.headers.items()}
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    user = headers.get("grange-user") or None
    host = headers.get("grange-host") or received.client
    if content_type == CLOUDEVENTS_BATCH:
        raise EventError(
            "a batch of CloudEvents is not accepted",
            fix=f"send each event in its own request ({CLOUDEVENTS_JSON} or binary mode)",
        )
    if any(k.startswith("ce-") for k in headers) or content_type == CLOUDEVENTS_JSON:
        return _from_cloudevent(headers, received.body, now=now, user=user, host=host)
    document = _json_body(received.body)
    if "name" not in document and "specversion" in document:
        headers["content-type"] = CLOUDEVENTS_JSON
        return _from_cloudevent(headers, received.body, now=now, user=user, host=host)
    return _from_metaflow_body(document, now=now, user=user, host=host)


def _json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise EventError(
            "the request has no body",
            fix='send {"name": NAME, "payload": {...}} as JSON, or a CloudEvent',
        )
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise EventError(
            f"the request body is not JSON ({err})",
            fix='send {"name": NAME, "payload": {...}} as JSON, or a CloudEvent',
        ) from None
    if not isinstance(document, dict):
        raise EventError(
            f"the request body is a JSON {type(document).__name__}, not an object",
            fix='send {"name": NAME, "payload": {...}}',
        )
    return document


def _from_metaflow_body(
    document: Mapping[str, Any], *, now: float, user: str | None, host: str | None
) -> EventRecord:
    if "name" not in document:
        raise EventError(
            "the event has no 'name'",
            fix='send {"name": NAME, "payload": {...}} (or a CloudEvent, whose type is the name)',
        )
    name = check_name(document["name"])
    payload = document.get("payload")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise EventError(
            f"the event's 'payload' is a JSON {type(payload).__name__}, not an object",
            fix='send {"name": NAME, "payload": {"field": value, ...}}',
        )
    record = EventRecord.new(name, payload, source="http", user="", host="", now=now)
    return replace(record, user=user, host=host)  # unknown stays unknown


def _from_cloudevent(
    headers: Mapping[str, str], body: bytes, *, now: float, user: str | None, host: str | None
) -> EventRecord:
    event = read_cloudevent(headers, body)
    name = check_name(event.type)
    data = event.data
    if isinstance(data, (bytes, str)) and data:
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise EventError(
                f"the data of CloudEvent {event.id!r} is not JSON",
                fix="send the data as a JSON object (datacontenttype application/json)",
            ) from None
    if data in (None, b"", ""):
        data = {}
    if not isinstance(data, dict):
        raise EventError(
            f"the data of CloudEvent {event.id!r} is a JSON {type(data).__name__}, not an object",
            fix="send the payload as a JSON object: its fields set the triggered flows' parameters",
        )
    when = event.time.timestamp() if event.time is not None else now
    payload = {**data, "name": name, "id": event.id, "timestamp": int(when)}
    return EventRecord(
        seq=None,
        event_id=_event_id(event.id),
        name=name,
        payload=payload,
        timestamp=float(int(when)),
        received_at=now,
        source="cloudevents",
        user=user,
        host=host,
    )


@dataclass(frozen=True)
class CloudEventFields:
    """What grange reads of a CloudEvent."""

    type: str
    id: str
    time: datetime | None
    data: Any


def read_cloudevent(headers: Mapping[str, str], body: bytes) -> CloudEventFields:
    """A CloudEvent read by the ``cloudevents`` SDK (its 2.x API, else 1.x's
    ``cloudevents.http.from_http``); its errors become an :class:`EventError`."""
    try:
        from cloudevents.core.bindings.http import HTTPMessage, from_http_event
    except ImportError:  # cloudevents 1.x
        from cloudevents.http import from_http  # type: ignore[import-not-found,no-redef]

        return read_legacy_cloudevent(from_http, headers, body)
    try:
        event = from_http_event(HTTPMessage(headers=dict(headers), body=body))
    except Exception as err:  # the SDK's errors have no common base across versions
        raise _cloudevent_error(err) from None
    return CloudEventFields(
        type=event.get_type(), id=event.get_id(), time=event.get_time(), data=event.get_data()
    )


def read_legacy_cloudevent(
    from_http: Any, headers: Mapping[str, str], body: bytes
) -> CloudEventFields:
    """The same with the SDK's 1.x API (``from_http(headers, data)``)."""
    try:
        event = from_http(dict(headers), body)
    except Exception as err:
        raise _cloudevent_error(err) from None
    when = event.get("time")
    if isinstance(when, str):
        when = datetime.fromisoformat(when.replace("Z", "+00:00"))
    return CloudEventFields(type=event["type"], id=event["id"], time=when, data=event.data)


def _cloudevent_error(err: Exception) -> EventError:
    text = " ".join(str(err).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return EventError(
        f"the request is not a valid CloudEvent: {text}",
        fix="a CloudEvent needs specversion, type (the event's name), source and id: in a "
        f"{CLOUDEVENTS_JSON} body, or as ce-* headers with the data as the body",
    )
