"""What started a run: ``grange.client.trigger.Trigger`` (Metaflow's), ``current.trigger``
read lazily from the run's claim, and the command-line forms of events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grange import current
from grange.cli.context import FlowContext, Settings
from grange.cli.trigger_options import payload_fields, trigger_events
from grange.client.trigger import Trigger, _upstream_flow
from grange.datastore import MemoryBlobStore
from grange.datastore.runs import RunClaim, claim_run
from grange.decorators.triggers import TriggerEvent
from grange.exceptions import CommandError
from grange.task.context import bind_current
from grange.task.spec import TaskSpec


def _events() -> list[dict[str, Any]]:
    return [
        TriggerEvent("first", "e1", 100.0, "event", {"k": 1}).to_dict(),
        TriggerEvent("second", "e2", 200.0, "event", {"k": 2}).to_dict(),
    ]


def test_trigger_lists_events_the_latest_first() -> None:
    trigger = Trigger(_events())
    assert trigger.event is not None and trigger.event.name == "second"
    assert [e.id for e in trigger.events or ()] == ["e2", "e1"]
    assert [e.name for e in trigger] == ["second", "first"]
    assert trigger["first"].payload == {"k": 1}  # type: ignore[union-attr]
    assert trigger.event.timestamp is not None and trigger.event.timestamp.timestamp() == 200
    assert "first" in trigger and "third" not in trigger
    with pytest.raises(KeyError):
        trigger["third"]
    assert trigger.run is None and trigger.runs is None  # no upstream run
    assert len(trigger) == 2 and repr(trigger) == "Trigger(second, first)"


def test_an_empty_trigger_and_a_run_without_one() -> None:
    assert Trigger.from_extra(None) is None
    assert Trigger.from_extra({"code_package": {}}) is None
    empty = Trigger()
    assert empty.event is None and empty.events is None and list(empty) == []


class CountingBlobs(MemoryBlobStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def _get(self, key: str) -> bytes:
        self.reads.append(key)
        return super()._get(key)


def _spec() -> TaskSpec:
    return TaskSpec(flow="F", run_id="1", step="start", task_id="1", user="ann")


def test_current_trigger_reads_the_claim_on_first_use_only() -> None:
    blobs = CountingBlobs()
    claim = RunClaim("F", "1", 0.0, "ann", extra={"trigger": _events()})
    assert claim_run(blobs, claim)
    blobs.reads.clear()
    try:
        bind_current(_spec(), {}, [], None, blobs)
        assert blobs.reads == []  # binding reads nothing
        trigger = current.trigger
        assert trigger is not None and trigger.event.name == "second"
        assert current.trigger is trigger  # read once per task
        assert len(blobs.reads) == 1
    finally:
        current._unbind()
    assert current.trigger is None  # outside a task


def test_current_trigger_is_none_for_a_run_no_event_started() -> None:
    blobs = MemoryBlobStore()
    assert claim_run(blobs, RunClaim("F", "1", 0.0, "ann"))
    try:
        bind_current(_spec(), {}, [], None, blobs)
        assert current.trigger is None
        assert "trigger" not in current
    finally:
        current._unbind()


def _flow(**settings: Any) -> FlowContext:
    from grange import FlowSpec

    return FlowContext(FlowSpec, Settings(**settings), "flow.py")


def test_payload_fields_read_json_else_text_and_files(tmp_path: Path) -> None:
    assert payload_fields(("a=1", "b=x y", 'c={"k": [1]}', "d=", "e=a=b")) == {
        "a": 1,
        "b": "x y",
        "c": {"k": [1]},
        "d": "",
        "e": "a=b",
    }
    (tmp_path / "p.json").write_text(json.dumps({"a": 1, "b": 2}))
    assert payload_fields((f"@{tmp_path / 'p.json'}", "b=3")) == {"a": 1, "b": 3}
    with pytest.raises(CommandError, match="gives a twice"):
        payload_fields(("a=1", "a=2"))
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(CommandError, match="holds list, not a JSON object"):
        payload_fields((f"@{tmp_path / 'list.json'}",))


def test_trigger_event_options_build_a_published_event() -> None:
    (event,) = trigger_events(
        _flow(trigger_event="new_data", trigger_payload=("date=2026-01-01", "timestamp=5"))
    )
    assert event.name == "new_data" and event.type == "event" and event.timestamp == 5.0
    assert event.payload["name"] == "new_data" and event.payload["id"] == event.id
    assert event.payload["date"] == "2026-01-01"
    assert trigger_events(_flow()) == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"trigger_payload": ("a=1",)}, "--trigger-event, which is missing"),
        ({"trigger_json": "[]", "trigger_event": "x"}, "cannot be combined"),
        ({"trigger_event": " x"}, "without surrounding spaces"),
        ({"trigger_event": "x", "trigger_payload": ("name=y",)}, "contradicts --trigger-event x"),
        ({"trigger_event": "x", "trigger_payload": ("timestamp=soon",)}, "is not a number"),
        ({"trigger_event": "x", "trigger_payload": ("timestamp=1e300",)}, "up to 9999-12-31"),
        ({"trigger_event": "x", "trigger_payload": ("timestamp=-1",)}, "is not a number"),
        ({"trigger_json": "{"}, "--trigger-json: the text is not JSON"),
        ({"trigger_json": '"x"'}, "expected a JSON list of events"),
        ({"trigger_json": '[{"name": "x"}]'}, "is not an event"),
        ({"trigger_json": '[{"name": "x", "id": "1", "payload": 3}]'}, "is not an event"),
        ({"trigger_runs": ("F/1/end",)}, "expected FLOW/RUN"),
    ],
)
def test_bad_trigger_options(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        trigger_events(_flow(**settings))


def test_trigger_json_takes_a_list_or_one_event() -> None:
    one = TriggerEvent("x", "1", 3.0, "run", {"a": 1})
    assert trigger_events(_flow(trigger_json=json.dumps(one.to_dict()))) == [one]
    assert trigger_events(_flow(trigger_json=json.dumps([one.to_dict()] * 2))) == [one, one]


def test_a_parameter_named_trigger_keeps_its_option_on_run() -> None:
    import click

    from grange import FlowSpec, Parameter, step
    from grange.cli.commands.run import make_run_command

    class TriggerParamFlow(FlowSpec):
        trigger = Parameter("trigger", default="x")

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    command = make_run_command(TriggerParamFlow)
    opts = [o for p in command.params if isinstance(p, click.Option) for o in p.opts]
    assert opts.count("--trigger") == 1 and "--trigger-event" in opts
    owner = next(p for p in command.params if "--trigger" in getattr(p, "opts", ()))
    assert owner.name == "trigger"  # the parameter's, not run's --trigger FLOW/RUN


# -- Metaflow's event tuple; odd stored values ---------------------------------------------


def test_an_event_is_metaflows_four_field_tuple_with_a_payload_attribute() -> None:
    import pickle

    event = Trigger(_events()).event
    assert event is not None
    name, event_id, ts, kind = event  # Metaflow code unpacks 4 fields
    assert (name, event_id, kind) == ("second", "e2", "event") and ts == event.timestamp
    assert len(event) == 4 and event[0] == "second" and event[3] == "event"
    assert event == ("second", "e2", event.timestamp, "event")
    assert event.payload == {"k": 2}
    assert pickle.loads(pickle.dumps(event)).payload == {"k": 2}  # an artifact keeps it
    assert event._fields == ("name", "id", "timestamp", "type")


@pytest.mark.parametrize(
    "stored",
    [
        {"name": "x", "id": "1", "timestamp": 1e20, "type": "event", "payload": {}},  # year 3e12
        {"name": "x", "id": "1", "timestamp": -1e20, "payload": {}},
        {"name": "x", "id": "1", "timestamp": float("nan"), "payload": {}},
        {"name": "x", "id": "1", "timestamp": "soon", "payload": {}},
        {"name": "x", "id": "1", "timestamp": True, "payload": {}},
        {"name": "x", "timestamp": 5, "payload": 3},  # no id, a payload that is no object
        {"name": "x"},
    ],
)
def test_odd_stored_values_never_make_the_trigger_raise(stored: dict[str, Any]) -> None:
    trigger = Trigger.from_extra({"trigger": [stored, _events()[0]]})
    assert trigger is not None and len(trigger) == 2
    events = trigger.events or []
    assert [e.name for e in events][-1] in ("x", "first")
    odd = next(e for e in events if e.name == "x")
    assert odd.timestamp is None or odd.timestamp.timestamp() == 5
    assert isinstance(odd.payload, dict)
    assert trigger.event is not None and trigger.event.name in ("x", "first")


def test_a_trigger_record_of_the_wrong_shape_is_no_trigger_or_read_as_it_can() -> None:
    assert Trigger.from_extra({"trigger": "x"}) is None
    assert Trigger.from_extra({"trigger": [1, "a"]}) is None
    one = Trigger.from_extra({"trigger": _events()[0]})  # one event, not a list
    assert one is not None and one.event is not None and one.event.name == "first"


# -- --trigger-event on the command line -----------------------------------------------------


def _cli_result(*args: str) -> Any:
    from click.testing import CliRunner

    from grange import FlowSpec, step
    from grange.cli.flow import build_flow_cli

    class EventOptionFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    return CliRunner().invoke(build_flow_cli(EventOptionFlow), list(args))


@pytest.mark.parametrize(
    "args",
    [("--trigger-event", "", "run"), ("run", "--trigger-event", ""), ("--trigger-event", " ")],
)
def test_an_empty_event_name_is_refused_not_ignored(args: tuple[str, ...]) -> None:
    result = _cli_result(*args)
    assert result.exit_code == 2, result.output
    assert "an event name is a non-empty text without surrounding spaces" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("--trigger-event", "a", "--trigger-event", "b", "run"),
        ("run", "--trigger-event", "a", "--trigger-event", "b"),
    ],
)
def test_trigger_event_twice_is_refused_with_the_json_form_as_fix(args: tuple[str, ...]) -> None:
    result = _cli_result(*args)
    assert result.exit_code == 2, result.output
    assert "--trigger-event is given 2 times (a, b)" in result.output
    assert "--trigger-json" in result.output


def test_an_empty_event_name_in_settings_is_no_absent_event() -> None:
    # Settings built without click (a test, an embedding) say so too, not silently nothing.
    with pytest.raises(CommandError, match="non-empty text"):
        trigger_events(_flow(trigger_event=""))
    with pytest.raises(CommandError, match="not JSON"):
        trigger_events(_flow(trigger_json=""))


def test_a_run_event_whose_id_names_another_flow_is_no_upstream_run() -> None:
    """Whoever publishes writes an end event's id: a forged 'TrainFlow ended' naming a
    run of PayrollFlow must not expose that run as current.trigger.run."""
    forged = TriggerEvent("metaflow.TrainFlow.end", "PayrollFlow/7/end/1", 300.0, "run", {})
    odd = TriggerEvent("not-an-end-event", "TrainFlow/8/end/1", 200.0, "run", {})
    trigger = Trigger([forged.to_dict(), odd.to_dict()])
    assert trigger.run is None and trigger.runs is None
    assert trigger["metaflow.TrainFlow.end"].id == "PayrollFlow/7/end/1"  # type: ignore[union-attr]
    with pytest.raises(KeyError):
        trigger["PayrollFlow"]
    real = TriggerEvent("metaflow.proj.prod.TrainFlow.end", "TrainFlow/9/end/1", 100.0, "run", {})
    (event,) = Trigger([real.to_dict()])
    assert _upstream_flow(event) == "TrainFlow"
