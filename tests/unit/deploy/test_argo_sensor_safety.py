"""The Sensor's names and filters where Argo Events would differ from what a test sees:
names that two deployments would share, event names govaluate reads as dates, big
numbers (float64), and names with a trailing newline."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.deploy.support import FLOWS, check_valid, compile_path

from argo_executor import SensorRunner
from argo_executor.events import evaluate, parse_expression
from grange.decorators.triggers import EventDependency, Triggers, UpstreamFlow
from grange.deploy.argo.sensor import reads_as_date, sensor_name
from grange.exceptions import CompileError


def body(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "payload": {"name": name, "id": f"id-{name}", "timestamp": 1, **fields}}


def test_sensor_names_of_different_templates_never_collide() -> None:
    names = [
        "proj.user.john.doe.inferenceflow",
        "proj.user.john-doe.inferenceflow",
        "proj-user-john-doe-inferenceflow",
        "a.b",
        "a-b",
    ]
    sensors = [sensor_name(n) for n in names]
    assert len(set(sensors)) == len(names)
    assert sensor_name("a-b") == "a-b"  # no dot: the template's own name
    assert sensor_name("a.b").startswith("a-b-") and "." not in sensor_name("a.b")
    dotted = compile_path(FLOWS / "trigger_event.py", name="team.flow")
    check_valid(dotted)
    plain = compile_path(FLOWS / "trigger_event.py", name="team-flow")
    assert dotted.sensors[0]["metadata"]["name"] != plain.sensors[0]["metadata"]["name"]
    label = dotted.sensors[0]["metadata"]["labels"]["grange.dev/workflow-template"]
    assert label == "team.flow"  # the owner, read before replacing or deleting it


@pytest.mark.parametrize("name", ["2024-01-01", "2024-01-01T10Z", "1999-12-31T23-0500"])
def test_an_event_name_govaluate_reads_as_a_date_is_refused(name: str) -> None:
    with pytest.raises(CompileError, match="reads as a date") as err:
        compile_path(FLOWS / "params.py", triggers=Triggers("event", (EventDependency(name),)))
    assert name in str(err.value)


def test_date_like_names_that_go_would_not_parse_are_kept() -> None:
    assert not reads_as_date("2024-02-30")  # no such day: Go's time.Parse fails too
    assert not reads_as_date("data-2024-01-01") and not reads_as_date("20240101")
    manifests = compile_path(
        FLOWS / "params.py", triggers=Triggers("event", (EventDependency("data-2024-01-01"),))
    )
    check_valid(manifests)


def test_a_date_like_branch_in_a_trigger_on_finish_filter_is_refused() -> None:
    upstream = UpstreamFlow("Up", "proj", "2024-01-01")
    triggers = Triggers("run", (EventDependency("metaflow.proj.x.Up.end", {}, upstream),))
    with pytest.raises(CompileError, match="reads as a date"):
        compile_path(FLOWS / "params.py", triggers=triggers)


def test_the_executor_reads_quoted_dates_as_govaluate_does() -> None:
    tree = parse_expression("name == '2024-01-01'")
    assert evaluate(tree, {"name": "2024-01-01"}) is False  # a string is not a number
    assert evaluate(parse_expression("name == '2024-02-30'"), {"name": "2024-02-30"}) is True
    # a hand-written Sensor filtering on a date never fires on Argo: nor in the executor
    manifests = compile_path(FLOWS / "trigger_event.py")
    sensor = manifests.sensors[0]
    exprs = sensor["spec"]["dependencies"][0]["filters"]["exprs"]
    exprs[0]["expr"] = "name == '2024-01-01'"
    assert SensorRunner(sensor).deliver("grange-events", "grange-event", body("2024-01-01")) == []


@pytest.mark.parametrize(
    "triggers",
    [
        Triggers("event", (EventDependency("new_data\n"),)),
        Triggers("event", (EventDependency("new_data", {"text": "field\n"}),)),
    ],
)
def test_a_trailing_newline_in_a_name_or_field_is_refused(triggers: Triggers) -> None:
    with pytest.raises(CompileError, match="can hold only"):
        compile_path(FLOWS / "params.py", triggers=triggers)


def test_a_mapped_big_integer_arrives_as_argo_events_renders_it() -> None:
    """The dataTemplate's input is json.Unmarshal'ed: numbers are float64 on Argo, so
    2**63 + 1 arrives rounded; the hidden payload (gjson's raw text) keeps it exact."""
    manifests = compile_path(FLOWS / "trigger_event.py")
    (workflow,) = SensorRunner(manifests.sensors[0]).deliver(
        "grange-events", "grange-event", body("new_data", date="d", rows=2**63 + 1)
    )
    args = {p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]}
    assert args["rows"] == "9223372036854776000"
    (hidden,) = [v for k, v in args.items() if k.startswith("grange-trigger-")]
    assert '"rows": 9223372036854775809' in hidden or '"rows":9223372036854775809' in hidden


def test_a_payload_past_the_limit_reaches_the_start_step_as_a_marker_it_refuses() -> None:
    """150 KB on the start pod's command line would kill it (128 KiB per argument) with
    no message: the Sensor passes a small marker instead, and the start step says why."""
    from grange.deploy.argo.sensor import MAX_PAYLOAD_BYTES, OVERSIZE_FIELD
    from grange.exceptions import EventError
    from grange.runtime import argo_task

    assert OVERSIZE_FIELD == argo_task.OVERSIZE_FIELD
    manifests = compile_path(FLOWS / "trigger_event.py")
    check_valid(manifests)
    sensor = SensorRunner(manifests.sensors[0])
    big = "x" * 150_000
    (workflow,) = sensor.deliver("grange-events", "grange-event", body("new_data", date=big))
    args = {p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]}
    assert all(len(v) < 1000 for v in args.values())
    assert args["date"] == "null"
    given = [f"{k}={v}" for k, v in args.items()]
    with pytest.raises(EventError, match="more than the 32768") as err:
        argo_task.split_trigger_parameters(given)
    assert "bytes of JSON" in err.value.message and MAX_PAYLOAD_BYTES == 32768
    # within the limit: the payload as it came (the template fails, the key's raw text)
    (small,) = sensor.deliver("grange-events", "grange-event", body("new_data", date="d"))
    params, events = argo_task.split_trigger_parameters(
        [f"{p['name']}={p['value']}" for p in small["spec"]["arguments"]["parameters"]]
    )
    assert events[0]["payload"]["date"] == "d" and 'date="d"' in params


def test_the_webhook_can_require_a_token_which_the_pods_get() -> None:
    from tests.argo_schema import validate

    from grange.cli.argo_events import with_token_secret
    from grange.deploy.argo.event_source import event_source

    doc = event_source("grange-events", "grange-event", "ns", "default", token_secret="tok")
    assert validate(doc) == []
    hook = doc["spec"]["webhook"]["grange-event"]
    assert hook["authSecret"] == {"name": "tok", "key": "GRANGE_EVENTS_TOKEN"}
    open_hook = event_source("grange-events", "grange-event", "ns", "default")
    assert "authSecret" not in open_hook["spec"]["webhook"]["grange-event"]
    argo = {"events_webhook_token_secret": "tok"}
    assert with_token_secret({}, argo) == {"secrets": ["tok"]}
    assert with_token_secret({"secrets": "aws"}, argo)["secrets"] == ["aws", "tok"]
    assert with_token_secret({"secrets": ["tok"]}, argo)["secrets"] == ["tok"]
    assert with_token_secret({"image": "x"}, {}) == {"image": "x"}


def test_a_relayed_github_push_starts_ingestion_and_githubs_own_post_does_not() -> None:
    """examples/ml_workflow: GitHub's push body is the event's payload, wrapped by the
    relay (`grange events publish github_push --payload-file push.json` or
    Event("github_push").publish(payload=body)); GitHub's own POST matches nothing."""
    import json

    from tests.unit.deploy.support import ROOT

    from grange.events.model import EventRecord

    example = ROOT / "examples" / "ml_workflow"
    push = json.loads((example / "push.json").read_text())
    manifests = compile_path(example / "ingest.py")
    sensor = SensorRunner(manifests.sensors[0])
    assert sensor.deliver("grange-events", "grange-event", push) == []  # GitHub's own body
    relayed = EventRecord.new("github_push", push, source="cli").body()
    (workflow,) = sensor.deliver("grange-events", "grange-event", relayed)
    args = {p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]}
    assert args["commit"] == json.dumps(push["after"])
