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
from grange.client.trigger import Trigger
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
