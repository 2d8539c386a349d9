"""The bodies ``POST /events`` accepts, read into an :class:`~grange.events.model.EventRecord`.

- Metaflow's (``application/json``): ``{"name": NAME, "payload": {...}}``; a
  payload without ``id`` or ``timestamp`` gets them (a new id, the time it arrived).
- CloudEvents, read with the ``cloudevents`` SDK: structured mode (``Content-Type:
  application/cloudevents+json``, or a JSON body with ``specversion`` and no
  ``name``) and binary mode (``ce-*`` headers, the body being the data).
  ``type`` is the event's name, ``id`` its id, ``time`` its timestamp (else the
  time it arrived) and ``data`` (a JSON object) its payload. Batches are refused.

Anything else is an :class:`~grange.exceptions.EventError` that names what is
wrong (the endpoint answers it with 400).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from grange.events.model import EventRecord, check_name, event_id_of
from grange.exceptions import EventError

CLOUDEVENTS_JSON = "application/cloudevents+json"
CLOUDEVENTS_BATCH = "application/cloudevents-batch+json"


@dataclass(frozen=True)
class Received:
    """What an HTTP request carried: its headers, its body and the peer's address."""

    headers: Mapping[str, str]
    body: bytes
    client: str | None = None


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
    fields = {k: v for k, v in payload.items() if k != "name"}
    record = EventRecord.new(name, fields, source="http", user="", host="", now=now)
    # As received (a payload's own 'name' kept); an unknown user stays unknown.
    return replace(record, payload={**record.payload, **payload}, user=user, host=host)


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
        event_id=event_id_of(event.id),
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
        from cloudevents.http import from_http  # type: ignore[import-not-found]

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
