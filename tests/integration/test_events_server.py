"""The events endpoint served by a real uvicorn on loopback, spoken to over HTTP by
httpx and by grange's own publisher (``Event(url=...)``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from grange.events import Event
from grange.events.model import EventRecord
from grange.events.server import RunningServer, make_app, serve
from grange.events.store import EventStore
from grange.exceptions import EventError, MetadataError
from grange.metastore import MetadataStore, sqlite_url

TOKEN = "s3cret-token"


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    return EventStore(MetadataStore.from_url(sqlite_url(tmp_path)))


@pytest.fixture
def woken() -> list[EventRecord]:
    return []


@pytest.fixture
def server(store: EventStore, woken: list[EventRecord]) -> Iterator[RunningServer]:
    app = make_app(lambda: store, token=TOKEN, on_event=woken.append, max_body=64 * 1024)
    with serve(app, "127.0.0.1", 0) as running:
        yield running


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.url, headers=headers) as c:
        yield c


def test_an_event_is_recorded_once_and_wakes_the_scheduler_once(
    client: httpx.Client, store: EventStore, woken: list[EventRecord]
) -> None:
    body = {"name": "new_data", "payload": {"name": "new_data", "id": "e-1", "date": "2024"}}
    first = client.post("/events", json=body)
    assert first.status_code == 202 and first.json() == {"id": "e-1", "duplicate": False}
    again = client.post("/events", json=body)
    assert again.status_code == 202 and again.json() == {"id": "e-1", "duplicate": True}
    recorded = store.list()
    assert [e.event_id for e in recorded] == ["e-1"] and recorded[0].source == "http"
    assert recorded[0].payload["date"] == "2024" and recorded[0].host == "127.0.0.1"
    assert [(e.event_id, e.seq) for e in woken] == [("e-1", recorded[0].seq)]


def test_cloudevents_in_both_modes(client: httpx.Client, store: EventStore) -> None:
    structured = {
        "specversion": "1.0",
        "type": "github.push",
        "source": "/repo",
        "id": "c-1",
        "data": {"sha": "abc"},
    }
    answer = client.post(
        "/events",
        content=json.dumps(structured),
        headers={"content-type": "application/cloudevents+json"},
    )
    assert answer.status_code == 202, answer.text
    binary = {"ce-specversion": "1.0", "ce-type": "github.push", "ce-source": "/r", "ce-id": "c-2"}
    answer = client.post("/events", json={"sha": "def"}, headers=binary)
    assert answer.status_code == 202, answer.text
    got = {e.event_id: e for e in store.list("github.push")}
    assert got["c-1"].payload["sha"] == "abc" and got["c-2"].payload["sha"] == "def"
    assert {e.source for e in got.values()} == {"cloudevents"}


def test_the_token_is_required(server: RunningServer, store: EventStore) -> None:
    body = {"name": "x", "payload": {}}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        answer = httpx.post(f"{server.url}/events", json=body, headers=headers)
        assert answer.status_code == 401 and "Bearer" in answer.json()["error"]
        assert answer.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(f"{server.url}/events").status_code == 401
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert store.list() == []


def test_bad_bodies_get_400_naming_the_problem(client: httpx.Client) -> None:
    answer = client.post("/events", json={"payload": {}})
    assert answer.status_code == 400 and "has no 'name'" in answer.json()["error"]
    answer = client.post("/events", content=b"{")
    assert answer.status_code == 400 and "not JSON" in answer.json()["error"]


def test_too_large_bodies_get_413(client: httpx.Client, store: EventStore) -> None:
    big = {"name": "x", "payload": {"blob": "a" * (65 * 1024)}}
    assert client.post("/events", json=big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"name": "x", "payload": {"blob": "'
        for _ in range(80):
            yield b"a" * 1024
        yield b'"}}'

    assert client.post("/events", content=chunks()).status_code == 413
    assert store.list() == []


def test_list_events(client: httpx.Client, store: EventStore) -> None:
    for i in range(3):
        store.record(EventRecord.new("a" if i else "b", {"i": i}))
    listed = client.get("/events", params={"limit": 2}).json()["events"]
    assert [e["payload"]["i"] for e in listed] == [2, 1]
    assert [e["name"] for e in client.get("/events", params={"name": "b"}).json()["events"]] == [
        "b"
    ]
    assert client.get("/events", params={"limit": "0"}).status_code == 400


def test_a_database_that_cannot_record_answers_503(tmp_path: Path) -> None:
    class Broken(EventStore):
        def record(self, event: EventRecord) -> bool:
            raise MetadataError("the database is locked")

    broken = Broken(MetadataStore.from_url(sqlite_url(tmp_path)))
    with serve(make_app(lambda: broken)) as running:
        answer = httpx.post(f"{running.url}/events", json={"name": "x"})
    assert answer.status_code == 503 and "locked" in answer.json()["error"]


def test_grange_publishes_to_the_endpoint(server: RunningServer, store: EventStore) -> None:
    event_id = Event("new_data", url=f"{server.url}/events", access_token=TOKEN).publish(
        payload={"rows": 3}
    )
    got = store.get(str(event_id))
    assert got is not None and got.payload["rows"] == 3 and got.user  # Grange-User header
    with pytest.raises(EventError, match="HTTP 401") as caught:
        Event("new_data", url=f"{server.url}/events", access_token="wrong").publish()
    assert "token was refused" in (caught.value.fix or "")


def test_a_port_in_use_is_named(server: RunningServer) -> None:
    with pytest.raises(EventError, match=f"cannot listen on 127.0.0.1:{server.port}"):
        serve(make_app(lambda: None), "127.0.0.1", server.port)  # type: ignore[arg-type,return-value]


def test_stop_ends_the_server(store: EventStore) -> None:
    running = serve(make_app(lambda: store))
    assert httpx.get(f"{running.url}/healthz").status_code == 200
    running.stop()
    assert not running.thread.is_alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{running.url}/healthz")
