"""Publishing: ``Event``/``ArgoEvent``, where events go ([events] settings, environment),
the HTTP client's retries and errors (a real HTTP server on loopback), and the end
event of a successful run."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from grange.decorators.project import ProjectInfo
from grange.events import ArgoEvent, Event
from grange.events.model import EventRecord
from grange.events.publish import emit_run_end, end_event, send
from grange.events.settings import EventSettings
from grange.events.store import EventStore
from grange.events.webhook import post_event
from grange.exceptions import ConfigError, EventError
from grange.metastore import MetadataStore, sqlite_url


@dataclass
class Endpoint:
    """A loopback HTTP server answering each request with the next of ``answers``
    (then 202), recording what it received."""

    answers: list[tuple[int, bytes]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    state = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            state.received.append(
                {"headers": dict(self.headers), "body": json.loads(body), "path": self.path}
            )
            status, text = state.answers.pop(0) if state.answers else (202, b'{"id": "x"}')
            self.send_response(status)
            self.send_header("content-length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/events"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No events URL, no profile: events go to the store under ``tmp_path/.grange``."""
    for name in ("GRANGE_EVENTS_URL", "GRANGE_EVENTS_TOKEN", "GRANGE_PROFILE", "GRANGE_METADATA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GRANGE_DATASTORE_ROOT", str(tmp_path / ".grange"))
    return tmp_path / ".grange"


def stored(root: Path) -> EventStore:
    return EventStore(MetadataStore.from_url(sqlite_url(root)))


def test_publish_records_in_the_local_store_and_returns_the_id(
    local: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = ArgoEvent("new_data", payload={"date": "2024"}).add_to_payload("rows", 3)
    assert ArgoEvent is Event
    event_id = event.publish(payload={"extra": [1, 2]})
    assert event_id is not None
    got = stored(local).get(event_id)
    assert got is not None and got.source == "publish"
    assert {k: got.payload[k] for k in ("date", "rows", "extra")} == {
        "date": "2024",
        "rows": 3,  # JSON types are kept (Metaflow would send "3")
        "extra": [1, 2],
    }
    assert "Event (new_data) published to the metadata database" in capsys.readouterr().err


def test_a_name_may_be_given_by_a_function_and_must_be_valid() -> None:
    assert Event(lambda: "made").name == "made"
    with pytest.raises(EventError, match="invalid event name"):
        Event("")


def test_safe_publish_publishes_only_in_deployed_runs(
    local: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ARGO_WORKFLOW_TEMPLATE", raising=False)
    monkeypatch.delenv("GRANGE_DEPLOYMENT", raising=False)
    assert Event("x").safe_publish() is None
    assert "was not published" in capsys.readouterr().err
    with pytest.raises(EventError, match="not a deployed run"):
        Event("x").safe_publish(ignore_errors=False)
    monkeypatch.setenv("GRANGE_DEPLOYMENT", "Train")
    assert Event("x").safe_publish() is not None


def test_a_payload_that_is_no_json_is_refused_naming_the_field(local: Path) -> None:
    with pytest.raises(EventError, match="'model'"):
        Event("x").add_to_payload("model", object()).publish()
    assert Event("x", payload={"model": object()}).publish(ignore_errors=True) is None


def test_events_go_to_the_url_with_the_token(
    endpoint: Endpoint, local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRANGE_EVENTS_URL", endpoint.url)
    monkeypatch.setenv("GRANGE_EVENTS_TOKEN", "t0k")
    monkeypatch.setenv("GRANGE_USER", "ada")
    event_id = Event("new_data", payload={"a": 1}).publish()
    (sent,) = endpoint.received
    assert sent["body"]["name"] == "new_data"
    assert sent["body"]["payload"]["id"] == event_id and sent["body"]["payload"]["a"] == 1
    assert sent["headers"]["Authorization"] == "Bearer t0k"
    assert sent["headers"]["Grange-User"] == "ada"
    assert not (local / "metadata.db").exists()  # not recorded locally as well
    Event("other", url=endpoint.url, access_token="mine").publish()
    assert endpoint.received[1]["headers"]["Authorization"] == "Bearer mine"
    Event("third", url=endpoint.url).publish()  # the token in force goes with a given URL
    assert endpoint.received[2]["headers"]["Authorization"] == "Bearer t0k"


def test_transient_failures_are_tried_again(endpoint: Endpoint) -> None:
    endpoint.answers = [(503, b"busy"), (502, b""), (202, b'{"id": "e"}')]
    pauses: list[float] = []
    answer = post_event(endpoint.url, {"name": "x", "payload": {}}, sleep=pauses.append)
    assert answer == {"id": "e"} and len(endpoint.received) == 3 and pauses == [0.5, 1.0]
    endpoint.answers = [(503, b"busy")] * 4
    with pytest.raises(EventError, match=r"HTTP 503.*busy.*tried 4 times"):
        post_event(endpoint.url, {"name": "x"}, sleep=lambda s: None)


def test_refusals_say_why(endpoint: Endpoint) -> None:
    endpoint.answers = [(401, b'{"error": "needs a token"}')]
    with pytest.raises(EventError, match=r"HTTP 401.*needs a token") as caught:
        post_event(endpoint.url, {"name": "x"})
    assert "GRANGE_EVENTS_TOKEN" in (caught.value.fix or "")
    endpoint.answers = [(403, b"")]
    with pytest.raises(EventError) as caught:
        post_event(endpoint.url, {"name": "x"}, token="bad")
    assert "the token was refused" in (caught.value.fix or "")
    endpoint.answers = [(400, b"x" * 2000)]
    with pytest.raises(EventError, match="HTTP 400") as caught:
        post_event(endpoint.url, {"name": "x"})
    assert len(caught.value.message) < 400 and caught.value.message.endswith("...")
    assert len(endpoint.received) == 3  # a refusal is not tried again


def test_unreachable_and_malformed_urls(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(EventError, match="cannot reach the events endpoint") as caught:
        post_event(f"http://127.0.0.1:{port}/events", {"name": "x"}, sleep=lambda s: None)
    assert "grange scheduler" in (caught.value.fix or "")
    with pytest.raises(EventError, match="not an http"):
        post_event("ftp://host/x", {"name": "x"})
    with pytest.raises(EventError, match=r"http://u:\*\*\*@"):
        post_event("http://u:secret@127.0.0.1:1/x", {}, tries=1)


def test_settings_come_from_the_profile_then_the_environment() -> None:
    table = {"url": "http://a/events", "token": "${MY_TOKEN}", "auto_emit": False}
    settings = EventSettings.read(table, {"MY_TOKEN": "t"})
    assert settings == EventSettings("http://a/events", "t", False, "[events] url")
    env = {"MY_TOKEN": "t", "GRANGE_EVENTS_URL": "http://b", "GRANGE_EVENTS_AUTO_EMIT": "yes"}
    assert EventSettings.read(table, env) == EventSettings(
        "http://b", "t", True, "GRANGE_EVENTS_URL"
    )
    assert EventSettings.read({}, {}) == EventSettings()


@pytest.mark.parametrize(
    ("table", "env", "said"),
    [
        ({"urls": "x"}, {}, "did you mean 'url'"),
        ({"auto_emit": "no"}, {}, "true or false"),
        ({"token": 3}, {}, "must be a string"),
        ({"token": "${UNSET_TOKEN}"}, {}, "UNSET_TOKEN is not set"),
        ({}, {"GRANGE_EVENTS_AUTO_EMIT": "maybe"}, "neither true nor false"),
    ],
)
def test_bad_settings_are_refused(table: dict[str, Any], env: dict[str, str], said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        EventSettings.read(table, env)
    assert said in caught.value.message + (caught.value.fix or "")


def test_send_to_a_given_store(tmp_path: Path) -> None:
    store = stored(tmp_path)
    record = EventRecord.new("x")
    assert send(record, settings=EventSettings(), store=store).startswith("the metadata database")
    assert store.get(record.event_id) is not None


PROJECT = ProjectInfo("ml", "user.ada", "TrainFlow", is_production=False, is_user_branch=True)


def test_the_end_event_is_metaflows() -> None:
    plain = end_event(flow="TrainFlow", run_id="4", end_step="end", task_id="9", project=None)
    assert plain.name == "metaflow.TrainFlow.end" and plain.event_id == "TrainFlow/4/end/9"
    assert plain.source == "auto"
    assert {k: v for k, v in plain.payload.items() if k not in ("name", "timestamp")} == {
        "id": "TrainFlow/4/end/9",
        "pathspec": "TrainFlow/4/end/9",
        "flow_name": "TrainFlow",
        "run_id": "4",
        "step_name": "end",
        "task_id": "9",
        "auto-generated-by-metaflow": True,
    }
    projected = end_event(
        flow="TrainFlow", run_id="4", end_step="end", task_id="9", project=PROJECT
    )
    assert projected.name == "metaflow.ml.user.ada.TrainFlow.end"
    assert {
        k: projected.payload[k] for k in ("project_name", "branch_name", "project_flow_name")
    } == {
        "project_name": "ml",
        "branch_name": "user.ada",
        "project_flow_name": "ml.user.ada.TrainFlow",
    }
    assert projected.payload["is_user_branch"] is True
    assert projected.payload["is_production"] is False
    assert projected.to_trigger_event().type == "run"


def _finished_run(tmp_path: Path) -> MetadataStore:
    metadata = MetadataStore.from_url(sqlite_url(tmp_path))
    run_id = metadata.new_run("TrainFlow", user="ada")
    from grange.metastore.rows import TaskRow

    metadata.register_tasks([TaskRow("TrainFlow", run_id, "end", "7")])
    return metadata


def test_a_run_end_is_recorded_in_the_runs_own_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRANGE_EVENTS_URL", raising=False)
    monkeypatch.delenv("GRANGE_EVENTS_AUTO_EMIT", raising=False)
    metadata = _finished_run(tmp_path)
    event_id = emit_run_end(
        metadata, flow="TrainFlow", run_id="1", end_step="end", project=None, events={}
    )
    assert event_id == "TrainFlow/1/end/7"
    assert EventStore(metadata).get(event_id) is not None
    off = emit_run_end(
        metadata, flow="TrainFlow", run_id="1", end_step="end", project=None,
        events={"auto_emit": False},
    )  # fmt: skip
    assert off is None


def test_a_run_end_that_cannot_be_emitted_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: Endpoint
) -> None:
    monkeypatch.delenv("GRANGE_EVENTS_AUTO_EMIT", raising=False)
    monkeypatch.delenv("GRANGE_EVENTS_URL", raising=False)
    metadata = _finished_run(tmp_path)
    warnings: list[str] = []
    endpoint.answers = [(401, b"no")]
    got = emit_run_end(
        metadata, flow="TrainFlow", run_id="1", end_step="end", project=None,
        events={"url": endpoint.url}, warn=warnings.append,
    )  # fmt: skip
    assert got is None
    assert "the run succeeded, but its end event could not be emitted" in warnings[0]
    assert "HTTP 401" in warnings[0] and "token" in warnings[0]
    emit_run_end(
        metadata, flow="TrainFlow", run_id="1", end_step="end", project=None,
        events={"nope": 1}, warn=warnings.append,
    )  # fmt: skip
    assert "[events] nope" in warnings[1]
    assert EventStore(metadata).list() == []


def test_metaflows_import_paths() -> None:
    from grange.integrations import ArgoEvent as FromIntegrations

    assert FromIntegrations is Event
    with pytest.raises(AttributeError):
        import grange.integrations

        _ = grange.integrations.Nothing  # type: ignore[attr-defined]


def test_ignore_errors_swallows_any_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("grange.events.publish.send", broken)
    assert Event("x").publish(ignore_errors=True) is None
    assert "Unable to publish event (x): RuntimeError: disk on fire" in capsys.readouterr().err
    with pytest.raises(RuntimeError):
        Event("x").publish()
