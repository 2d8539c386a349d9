"""An event as grange builds, sends and receives it: names, payloads, wire bodies,
CloudEvents (structured and binary), and what a triggered run sees of it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from grange.events.bodies import Received, parse_http, read_legacy_cloudevent
from grange.events.model import MAX_NAME_LENGTH, EventRecord
from grange.exceptions import EventError

NOW = 1_717_200_000.25


def received_body(body: Any, **headers: str) -> Received:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Received(headers={"content-type": "application/json", **headers}, body=data)


def test_a_new_event_has_an_id_a_whole_second_timestamp_and_its_fields() -> None:
    event = EventRecord.new("new_data", {"date": "2024-06-01", "rows": 3}, now=NOW)
    assert event.name == "new_data" and len(event.event_id) == 36
    assert event.timestamp == 1_717_200_000.0 and event.received_at == NOW
    assert event.payload == {
        "name": "new_data",
        "id": event.event_id,
        "timestamp": 1_717_200_000,
        "date": "2024-06-01",
        "rows": 3,
    }
    assert event.source == "publish" and event.user and event.host
    assert event.body() == {"name": "new_data", "payload": dict(event.payload)}
    assert EventRecord.new("new_data").event_id != event.event_id


def test_payload_id_and_timestamp_win_as_in_metaflow() -> None:
    event = EventRecord.new("x", {"id": "Flow/1/end/2", "timestamp": 5}, now=NOW)
    assert event.event_id == "Flow/1/end/2" and event.timestamp == 5.0
    assert EventRecord.new("x", event_id="mine", now=NOW).payload["id"] == "mine"


def test_the_payloads_name_is_the_events_name() -> None:
    assert EventRecord.new("x", {"name": "x"}).payload["name"] == "x"
    with pytest.raises(EventError, match="'name' \\('alice'\\) is not the event's name"):
        EventRecord.new("x", {"name": "alice"})
    received = parse_http(received_body({"name": "x", "payload": {"name": "other", "id": "i"}}))
    assert received.name == "x" and received.payload["name"] == "other"  # kept as received


def test_user_comes_from_grange_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRANGE_USER", "ada")
    assert EventRecord.new("x").user == "ada"


@pytest.mark.parametrize("name", ["", " x", "x ", "a\nb", "x" * (MAX_NAME_LENGTH + 1), 3])
def test_invalid_names_are_refused_with_the_rule(name: Any) -> None:
    with pytest.raises(EventError) as caught:
        EventRecord.new(name)
    assert "253" in (caught.value.fix or "")


def test_a_payload_json_cannot_carry_names_the_field() -> None:
    with pytest.raises(EventError, match="field 'when'") as caught:
        EventRecord.new("x", {"ok": 1, "when": object()})
    assert "string, a number" in (caught.value.fix or "")
    with pytest.raises(EventError, match="field 'ratio'"):
        EventRecord.new("x", {"ratio": float("nan")})
    with pytest.raises(EventError, match="timestamp"):
        EventRecord.new("x", {"timestamp": "yesterday"})
    with pytest.raises(EventError, match="event id"):
        EventRecord.new("x", {"id": ""})


def test_metaflows_body_is_read_with_the_publishers_user_and_host() -> None:
    body = {"name": "new_data", "payload": {"name": "new_data", "id": "e1", "timestamp": 7, "a": 1}}
    event = parse_http(
        Received(
            headers={"Content-Type": "application/json", "Grange-User": "ada", "Grange-Host": "h"},
            body=json.dumps(body).encode(),
            client="10.0.0.1",
        ),
        now=NOW,
    )
    assert (event.event_id, event.name, event.timestamp) == ("e1", "new_data", 7.0)
    assert event.payload == body["payload"] and event.source == "http"
    assert (event.user, event.host, event.received_at) == ("ada", "h", NOW)


def test_a_body_without_payload_id_or_timestamp_gets_them() -> None:
    event = parse_http(Received(headers={}, body=b'{"name": "ping"}', client="127.0.0.1"), now=NOW)
    assert event.payload["id"] == event.event_id and event.timestamp == 1_717_200_000.0
    assert (event.user, event.host) == (None, "127.0.0.1")


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"", "no body"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON list, not an object"),
        ({"payload": {}}, "has no 'name'"),
        ({"name": "x", "payload": [1]}, "'payload' is a JSON list"),
        ({"name": "", "payload": {}}, "invalid event name"),
    ],
)
def test_bodies_that_are_no_event_are_refused_naming_what_is_wrong(body: Any, said: str) -> None:
    with pytest.raises(EventError, match=said):
        parse_http(received_body(body))


CLOUDEVENT = {
    "specversion": "1.0",
    "type": "new_data",
    "source": "/github/push",
    "id": "ce-1",
    "time": "2024-06-01T00:00:00Z",
    "datacontenttype": "application/json",
    "data": {"date": "2024-06-01"},
}


def test_a_structured_cloudevent_is_read() -> None:
    event = parse_http(
        Received(
            headers={"content-type": "application/cloudevents+json; charset=utf-8"},
            body=json.dumps(CLOUDEVENT).encode(),
        ),
        now=NOW,
    )
    assert (event.name, event.event_id, event.source) == ("new_data", "ce-1", "cloudevents")
    assert event.timestamp == 1_717_200_000.0
    assert event.payload == {
        "date": "2024-06-01",
        "name": "new_data",
        "id": "ce-1",
        "timestamp": 1_717_200_000,
    }


def test_a_cloudevent_sent_as_plain_json_is_recognised_by_its_specversion() -> None:
    assert parse_http(received_body(CLOUDEVENT)).source == "cloudevents"


def test_a_binary_cloudevent_is_read_from_its_headers() -> None:
    headers = {
        "ce-specversion": "1.0",
        "ce-type": "new_data",
        "ce-source": "/s",
        "ce-id": "b-1",
        "ce-time": "2024-06-01T00:00:00Z",
        "content-type": "application/json",
    }
    event = parse_http(Received(headers=headers, body=b'{"date": "x"}'), now=NOW)
    assert (event.name, event.event_id, event.timestamp) == ("new_data", "b-1", 1_717_200_000.0)
    assert event.payload["date"] == "x"
    no_data = parse_http(Received(headers=headers, body=b""), now=NOW)
    assert no_data.payload == {"name": "new_data", "id": "b-1", "timestamp": 1_717_200_000}


def test_cloudevents_that_grange_cannot_use_are_refused() -> None:
    missing = {k: v for k, v in CLOUDEVENT.items() if k != "source"}
    with pytest.raises(EventError, match="not a valid CloudEvent") as caught:
        parse_http(received_body(missing, **{"content-type": "application/cloudevents+json"}))
    assert "source" in caught.value.message and "specversion, type" in (caught.value.fix or "")
    listed = {**CLOUDEVENT, "data": [1, 2]}
    with pytest.raises(EventError, match="is a JSON list, not an object"):
        parse_http(received_body(listed, **{"content-type": "application/cloudevents+json"}))
    with pytest.raises(EventError, match="batch"):
        parse_http(
            received_body([CLOUDEVENT], **{"content-type": "application/cloudevents-batch+json"})
        )
    headers = {"ce-specversion": "1.0", "ce-type": "t", "ce-source": "/s", "ce-id": "i"}
    with pytest.raises(EventError, match="not JSON"):
        parse_http(Received(headers={**headers, "content-type": "text/plain"}, body=b"hello"))


def test_the_sdks_1x_api_reads_the_same_events() -> None:
    from cloudevents.v1.http import from_http  # the 1.x API, kept in 2.x

    fields = read_legacy_cloudevent(
        from_http,
        {"content-type": "application/cloudevents+json"},
        json.dumps(CLOUDEVENT).encode(),
    )
    assert (fields.type, fields.id, fields.data) == ("new_data", "ce-1", {"date": "2024-06-01"})
    assert fields.time is not None and fields.time.timestamp() == 1_717_200_000
    with pytest.raises(EventError, match="not a valid CloudEvent"):
        read_legacy_cloudevent(from_http, {"content-type": "application/json"}, b"{}")


def test_a_published_event_triggers_as_an_event() -> None:
    event = EventRecord.new("new_data", {"date": "d"}, now=NOW)
    trigger = event.to_trigger_event()
    assert (trigger.type, trigger.id, trigger.name) == ("event", event.event_id, "new_data")
    assert trigger.timestamp == event.timestamp and trigger.payload["date"] == "d"


@pytest.mark.parametrize("mark", [True, "True", "true"])
def test_a_runs_end_event_triggers_as_that_run(mark: Any) -> None:
    payload = {
        "id": "Train/4/end/9",
        "pathspec": "Train/4/end/9",
        "auto-generated-by-metaflow": mark,
    }
    trigger = EventRecord.new("metaflow.Train.end", payload, now=NOW).to_trigger_event()
    assert (trigger.type, trigger.id) == ("run", "Train/4/end/9")


def test_only_end_events_marked_by_grange_or_metaflow_are_runs() -> None:
    unmarked = EventRecord.new("metaflow.Train.end", {"id": "x"}, now=NOW)
    other = EventRecord.new("metaflow.Train.train", {"auto-generated-by-metaflow": True})
    assert unmarked.to_trigger_event().type == "event"
    assert other.to_trigger_event().type == "event"
