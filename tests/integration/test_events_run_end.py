"""A run that succeeds emits ``metaflow.<project_flow_name>.end`` (real runs of the flows
of tests/flows/run): into the run's own metadata database, or to the events URL in
force; never when it fails or when auto_emit is off; a failure to emit is a warning."""

from __future__ import annotations

import socket
from pathlib import Path

from grange.events.server import make_app, serve
from grange.events.store import EventStore
from grange.metastore import MetadataStore, sqlite_url
from support import Runner


def events_of(runner: Runner) -> EventStore:
    return EventStore(MetadataStore.from_url(sqlite_url(runner.root)))


def test_a_successful_run_emits_its_end_event(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    result = runner.run("linear")
    (event,) = events_of(runner).list()
    end = f"LinearRunFlow/{result.run_id}/end/"
    assert event.name == "metaflow.LinearRunFlow.end" and event.event_id.startswith(end)
    assert event.source == "auto" and event.user == "tester"
    assert event.payload["pathspec"] == event.event_id
    assert event.payload["run_id"] == result.run_id
    assert event.payload["auto-generated-by-metaflow"] is True
    assert "project_name" not in event.payload
    trigger = event.to_trigger_event()
    assert (trigger.type, trigger.id) == ("run", event.event_id)


def test_a_failed_run_emits_nothing(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    runner.run("fail", env=runner.env(FAIL_ITEM="2"), ok=False)
    assert events_of(runner).list() == []


def test_a_project_run_names_its_branch(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    runner.run("project_facts", "--branch", "feature")
    (event,) = events_of(runner).list()
    assert event.name == "metaflow.demo.test.feature.ProjectFactsFlow.end"
    assert event.payload["project_flow_name"] == "demo.test.feature.ProjectFactsFlow"
    assert event.payload["branch_name"] == "test.feature"
    assert event.payload["is_production"] is False


def test_auto_emit_off_by_environment_or_profile(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    runner.run("linear", env=runner.env(GRANGE_EVENTS_AUTO_EMIT="0"))
    config = tmp_path / "config.toml"
    config.write_text("[profiles.quiet]\n[profiles.quiet.events]\nauto_emit = false\n")
    runner.run("linear", env=runner.env(GRANGE_CONFIG=str(config), GRANGE_PROFILE="quiet"))
    assert events_of(runner).list() == []


def test_the_end_event_goes_to_the_events_url(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    elsewhere = EventStore(MetadataStore.from_url(sqlite_url(tmp_path / "scheduler")))
    with serve(make_app(lambda: elsewhere, token="tok")) as server:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[profiles.team.events]\nurl = "{server.url}/events"\ntoken = "${{MY_TOKEN}}"\n'
        )
        env = runner.env(GRANGE_CONFIG=str(config), GRANGE_PROFILE="team", MY_TOKEN="tok")
        result = runner.run("linear", env=env)
    (event,) = elsewhere.list()
    assert event.event_id.startswith(f"LinearRunFlow/{result.run_id}/end/")
    assert event.source == "http" and event.user == "tester"
    assert events_of(runner).list() == []


def test_an_end_event_that_cannot_be_sent_does_not_fail_the_run(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = runner.env(GRANGE_EVENTS_URL=f"http://127.0.0.1:{port}/events")
    result = runner.run("linear", env=env)  # exits 0
    assert "succeeded" in result.output
    assert "the run succeeded, but its end event could not be emitted" in result.stderr
    assert "cannot reach the events endpoint" in result.stderr


PUBLISHER = """
from grange import FlowSpec, step
from grange.events import Event


class PublishFlow(FlowSpec):
    @step
    def start(self):
        self.event_id = Event("new_data").add_to_payload("rows", 3).publish()
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PublishFlow()
"""


def test_a_step_publishes_into_the_runs_store(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    flow = tmp_path / "publish_flow.py"
    flow.write_text(PUBLISHER)
    runner.run(flow)
    names = [(e.name, e.source, e.payload.get("rows")) for e in events_of(runner).list()]
    assert names == [("metaflow.PublishFlow.end", "auto", None), ("new_data", "publish", 3)]
