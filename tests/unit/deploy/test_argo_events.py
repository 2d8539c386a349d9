"""@schedule and @trigger on Argo: the CronWorkflow and the Sensor, checked strictly, and
run through the local executor's cron and Sensor (tests/argo_executor.events)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.argo_schema import validate
from tests.unit.deploy.support import FLOWS, check_valid, compile_path

from argo_executor import Refused, SensorRunner, cron_workflow_run
from grange.decorators.triggers import (
    EventDependency,
    ResetAt,
    Schedule,
    Triggers,
    UpstreamFlow,
    end_event_name,
)
from grange.deploy.argo.event_source import event_source, webhook_url
from grange.exceptions import CompileError
from grange.runtime.argo_task import split_trigger_parameters


def body(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "payload": {"name": name, "id": f"id-{name}", "timestamp": 1, **fields}}


def arguments(workflow: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]}


def runner(manifests: Any, **kwargs: Any) -> SensorRunner:
    (sensor,) = manifests.sensors
    return SensorRunner(sensor, **kwargs)


# -- CronWorkflow -----------------------------------------------------------------------------


def test_a_schedule_is_a_cron_workflow_of_the_template() -> None:
    manifests = compile_path(FLOWS / "schedule_cron_tz.py")
    check_valid(manifests)
    cron = manifests.cron_workflow
    assert cron is not None and cron["metadata"]["name"] == manifests.name
    spec = cron["spec"]
    assert spec["schedules"] == ["30 6 * * 1-5"] and "schedule" not in spec
    assert spec["timezone"] == "Europe/Paris"
    assert spec["concurrencyPolicy"] == "Allow"
    assert spec["workflowSpec"] == {"workflowTemplateRef": {"name": manifests.name}}
    annotations = manifests.workflow_template["metadata"]["annotations"]
    assert annotations["grange.dev/cron"] == "30 6 * * 1-5"
    run = cron_workflow_run(cron, at=1_700_000_000)
    assert run["metadata"]["name"] == f"{manifests.name}-1700000000"
    assert validate(run) == []


def test_concurrency_policy_and_history_are_settings() -> None:
    manifests = compile_path(
        FLOWS / "schedule_hourly.py",
        concurrency_policy="Forbid",
        successful_history=3,
        failed_history=5,
        starting_deadline_seconds=60,
    )
    spec = manifests.cron_workflow["spec"]  # type: ignore[index]
    assert spec["schedules"] == ["0 * * * *"]
    assert (spec["concurrencyPolicy"], spec["successfulJobsHistoryLimit"]) == ("Forbid", 3)
    assert (spec["failedJobsHistoryLimit"], spec["startingDeadlineSeconds"]) == (5, 60)
    with pytest.raises(CompileError, match="concurrency policy 'Sometimes'"):
        compile_path(FLOWS / "schedule_hourly.py", concurrency_policy="Sometimes")


def test_no_schedule_no_cron_workflow() -> None:
    manifests = compile_path(FLOWS / "params.py")
    assert manifests.cron_workflow is None and manifests.sensors == []
    assert len(manifests.documents()) == 1


# -- Sensor -------------------------------------------------------------------------------------


def test_one_event_maps_every_parameter_and_passes_its_payload_to_start() -> None:
    manifests = compile_path(FLOWS / "trigger_event.py", events_webhook_url="http://hook/events")
    check_valid(manifests)
    template = manifests.workflow_template
    hidden = [
        p["name"]
        for p in template["spec"]["arguments"]["parameters"]
        if p["name"].startswith("grange-trigger-event-new-data-")
    ]
    assert len(hidden) == 1
    start = next(t for t in template["spec"]["templates"] if t["name"] == "start")
    assert f"{hidden[0]}={{{{workflow.parameters.{hidden[0]}}}}}" in start["container"]["args"]
    env = {
        e["name"]: e.get("value") for e in template["spec"]["templateDefaults"]["container"]["env"]
    }
    assert env["GRANGE_EVENTS_URL"] == "http://hook/events"
    sensor = runner(manifests)
    assert sensor.deliver("grange-events", "grange-event", body("other", date="x")) == []
    (workflow,) = sensor.deliver(
        "grange-events", "grange-event", body("new_data", date="2024-05-01", rows=7)
    )
    assert validate(workflow) == []
    values = arguments(workflow)
    assert values["date"] == '"2024-05-01"' and values["rows"] == "7"
    assert json.loads(values[hidden[0]])["date"] == "2024-05-01"
    # without a field the default stays; a required field missing: no run
    (workflow,) = sensor.deliver("grange-events", "grange-event", body("new_data", date="d"))
    assert arguments(workflow)["rows"] == "100"
    assert sensor.deliver("grange-events", "grange-event", body("new_data", rows=1)) == []
    # another webhook's events are not this Sensor's
    assert sensor.deliver("elsewhere", "grange-event", body("new_data", date="d")) == []


def test_events_and_waits_for_every_event_and_resets(monkeypatch: pytest.MonkeyPatch) -> None:
    manifests = compile_path(FLOWS / "trigger_events_and.py")
    check_valid(manifests)
    (sensor_doc,) = manifests.sensors
    assert sensor_doc["spec"]["triggers"][0]["template"]["conditionsReset"] == [
        {"byTime": {"cron": "0 0 * * *", "timezone": "America/New_York"}}
    ]
    now = [1_700_000_000.0]  # 2023-11-14 22:13 UTC, 17:13 in New York
    sensor = runner(manifests, clock=lambda: now[0])
    assert sensor.deliver("grange-events", "grange-event", body("data.ready", table_name="t")) == []
    (workflow,) = sensor.deliver("grange-events", "grange-event", body("features-ready", version=3))
    values = arguments(workflow)
    assert (values["table"], values["version"]) == ('"t"', "3")
    payloads = [json.loads(v) for k, v in values.items() if k.startswith("grange-trigger-")]
    assert sorted(p["name"] for p in payloads) == ["data.ready", "features-ready"]
    # the AND starts over; an event from before New York's midnight no longer counts
    assert sensor.deliver("grange-events", "grange-event", body("data.ready", table_name="u")) == []
    now[0] += 8 * 3600
    assert sensor.deliver("grange-events", "grange-event", body("features-ready", version=4)) == []
    (workflow,) = sensor.deliver("grange-events", "grange-event", body("data.ready"))
    assert arguments(workflow)["table"] == '"events"'  # not given: the default


def test_trigger_on_finish_filters_on_the_upstream_project_and_branch() -> None:
    manifests = compile_path(FLOWS / "finish_project.py")
    check_valid(manifests)
    sensor = runner(manifests)
    name = end_event_name("fraud.user.tester.TrainingFlow")
    end = {
        "project_name": "fraud",
        "branch_name": "user.tester",
        "auto-generated-by-metaflow": True,
    }
    assert sensor.deliver("grange-events", "grange-event", body(name, **end)) == []
    wrong = {**end, "branch_name": "prod"}
    feature = end_event_name("fraud.prod.FeatureFlow")
    assert sensor.deliver("grange-events", "grange-event", body(feature, **wrong)) != []
    # the AND starts over; a hand-made end event without Metaflow's mark does not count
    assert sensor.deliver("grange-events", "grange-event", body(name, **end)) == []
    forged = {k: v for k, v in wrong.items() if k != "auto-generated-by-metaflow"}
    assert sensor.deliver("grange-events", "grange-event", body(feature, **forged)) == []
    # Metaflow's own end events carry the mark as the text 'True'
    metaflow = {**wrong, "auto-generated-by-metaflow": "True"}
    assert sensor.deliver("grange-events", "grange-event", body(feature, **metaflow)) != []


def test_fully_qualified_upstream_and_plain_upstream() -> None:
    manifests = compile_path(FLOWS / "finish_fq_name.py")
    exprs = manifests.sensors[0]["spec"]["dependencies"][0]["filters"]["exprs"]
    assert exprs[0]["expr"] == "name == 'metaflow.fraud.prod.TrainingFlow.end'"
    assert {e["expr"] for e in exprs[1:3]} == {"field == 'fraud'", "field == 'prod'"}
    plain = compile_path(FLOWS / "finish_plain.py")
    exprs = plain.sensors[0]["spec"]["dependencies"][0]["filters"]["exprs"]
    assert [e["fields"][0]["path"] for e in exprs] == [
        "body.payload.name",
        "body.payload.auto-generated-by-metaflow",
    ]
    hidden = [p["name"] for p in plain.workflow_template["spec"]["arguments"]["parameters"]]
    assert hidden[0].startswith("grange-trigger-run-metaflow-trainingflow-end-")


@pytest.mark.parametrize(
    ("triggers", "message"),
    [
        (Triggers("event", (EventDependency("a", {"nope": "x"}),)), "does not have"),
        (Triggers("event", (EventDependency("a b"),)), "can hold only"),
        (Triggers("event", (EventDependency("a", {"text": "a.b"}),)), "payload field 'a.b'"),
        (
            Triggers(
                "event", (EventDependency("a", {"text": "x"}), EventDependency("b", {"text": "y"}))
            ),
            "mapped from two events",
        ),
        (Triggers("event", (EventDependency("a"), EventDependency("a"))), "the same event"),
    ],
)
def test_bad_triggers_are_refused(triggers: Triggers, message: str) -> None:
    with pytest.raises(CompileError, match=message):
        compile_path(FLOWS / "params.py", triggers=triggers)


def test_hand_built_triggers_with_reset_and_upstream_validate() -> None:
    upstream = UpstreamFlow("Up", "proj", "prod")
    triggers = Triggers(
        "run",
        (EventDependency(end_event_name(upstream.project_flow_name), {}, upstream),),
        ResetAt("0 * * * *"),
    )
    manifests = compile_path(FLOWS / "params.py", triggers=triggers, schedule=Schedule("0 1 * * *"))
    check_valid(manifests)
    assert [d["kind"] for d in manifests.documents()] == [
        "WorkflowTemplate",
        "CronWorkflow",
        "Sensor",
    ]
    sensors = json.loads(
        manifests.workflow_template["metadata"]["annotations"]["grange.dev/sensors"]
    )
    assert sensors == [manifests.sensors[0]["metadata"]["name"]]


def test_the_executor_refuses_what_it_does_not_implement() -> None:
    manifests = compile_path(FLOWS / "trigger_event.py")
    sensor = json.loads(json.dumps(manifests.sensors[0]))
    sensor["spec"]["triggers"][0]["template"]["k8s"]["parameters"][0]["src"]["dataTemplate"] = (
        "{{x}}"
    )
    with pytest.raises(Refused, match="dataTemplate"):
        SensorRunner(sensor)
    sensor = json.loads(json.dumps(manifests.sensors[0]))
    sensor["spec"]["triggers"][0]["policy"] = {}
    with pytest.raises(Refused, match="policy"):
        SensorRunner(sensor)


def test_the_event_source_of_the_convention() -> None:
    doc = event_source("grange-events", "grange-event", "ml", "default")
    assert validate(doc) == []
    assert doc["spec"]["webhook"]["grange-event"]["endpoint"] == "/events"
    assert webhook_url("grange-events", "ml") == (
        "http://grange-events-eventsource-svc.ml.svc:12000/events"
    )


# -- the start pod's side -----------------------------------------------------------------------


def test_start_reads_the_payloads_as_the_runs_trigger() -> None:
    payload = {"name": "new_data", "id": "e1", "timestamp": 12, "date": "d"}
    given = [
        'date="d"',
        f"grange-trigger-event-new-data-abcd={json.dumps(payload)}",
        "grange-trigger-run-up-wxyz=null",  # not set by the Sensor (a manual trigger)
    ]
    params, events = split_trigger_parameters(given)
    assert params == ['date="d"']
    assert events == [
        {"name": "new_data", "id": "e1", "timestamp": 12.0, "type": "event", "payload": payload}
    ]


def test_the_end_event_goes_to_the_webhook_and_never_fails_the_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from argo_executor import WebhookSource
    from grange.runtime.argo_task import emit_end_event

    with WebhookSource() as source:
        monkeypatch.setenv("GRANGE_EVENTS_URL", source.url)
        monkeypatch.setenv("GRANGE_EVENTS_AUTO_EMIT", "false")
        emit_end_event("Up", "argo-up-1", "end", "t0", None, "alice")
        assert source.received == []  # --no-auto-emit-argo-events
        monkeypatch.delenv("GRANGE_EVENTS_AUTO_EMIT")
        emit_end_event("Up", "argo-up-1", "end", "t0", None, "alice")
        (sent,) = source.received
    assert sent["name"] == "metaflow.Up.end"
    assert sent["payload"]["pathspec"] == "Up/argo-up-1/end/t0"
    assert sent["payload"]["auto-generated-by-metaflow"] is True
    # the webhook gone: a warning with the command that sends it again, no exception
    from grange.runtime import argo_task

    monkeypatch.setattr(argo_task, "END_EVENT_BUDGET", 0.5)
    monkeypatch.setenv("GRANGE_EVENTS_URL", source.url)
    emit_end_event("Up", "argo-up-2", "end", "t0", None, "alice")
    err = capsys.readouterr().err
    assert "the run succeeded, but its end event could not be published" in err
    command = err.split("Send it again (same id and time) if it never arrived, with:\n")[1]
    assert command.strip().startswith("echo '{") and "--id Up/argo-up-2/end/t0" in command
    # the command, as printed, sends the same event (id, time, payload)
    import shlex

    from click.testing import CliRunner

    from grange.cli.commands.events import events

    echoed, _, cli = command.strip().partition(" | grange events ")
    with WebhookSource() as again:
        args = shlex.split(cli.replace(source.url, again.url))
        done = CliRunner().invoke(events, args, input=shlex.split(echoed)[1])
        assert done.exit_code == 0, done.output
        (resent,) = again.received
    assert resent["name"] == "metaflow.Up.end"
    assert resent["payload"]["id"] == "Up/argo-up-2/end/t0"
    assert resent["payload"]["auto-generated-by-metaflow"] is True
    assert resent["payload"]["timestamp"] == json.loads(shlex.split(echoed)[1])["timestamp"]


def test_auto_emit_off_and_reserved_parameter_names(tmp_path: Any) -> None:
    manifests = compile_path(FLOWS / "schedule_hourly.py", auto_emit_events=False)
    env = manifests.workflow_template["spec"]["templateDefaults"]["container"]["env"]
    assert {"name": "GRANGE_EVENTS_AUTO_EMIT", "value": "false"} in env
    assert {"name": "ARGO_WORKFLOW_TEMPLATE", "value": "hourlyflow"} in env
    flow = tmp_path / "flow.py"
    flow.write_text(
        "from grange import FlowSpec, Parameter, step\n\n"
        "class ReservedFlow(FlowSpec):\n"
        "    x = Parameter('grange-trigger-x', default=1)\n\n"
        "    @step\n    def start(self):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n"
    )
    with pytest.raises(CompileError, match="starts with 'grange-trigger-'"):
        compile_path(flow)


def test_the_executor_sensor_data_filters_and_expressions() -> None:
    from argo_executor.events import evaluate, parse_expression

    sensor = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": "s"},
        "spec": {
            "dependencies": [
                {
                    "name": "d",
                    "eventSourceName": "src",
                    "eventName": "ev",
                    "filters": {
                        "data": [
                            {"path": "body.payload.rows", "type": "number", "comparator": ">",
                             "value": ["10"]},
                            {"path": "body.payload.table", "type": "string", "value": ["^sales"]},
                        ]
                    },
                }
            ],
            "triggers": [
                {
                    "template": {
                        "name": "t",
                        "k8s": {
                            "operation": "create",
                            "source": {"resource": {"spec": {"arguments": {"parameters": [
                                {"name": "p", "value": "none"}]}}}},
                            "parameters": [
                                {"src": {"dependencyName": "d", "dataKey": "body.payload.table"},
                                 "dest": "spec.arguments.parameters.#(name=p).value"}
                            ],
                        },
                    }
                }
            ],
        },
    }  # fmt: skip
    runner_ = SensorRunner(sensor)
    assert runner_.deliver("src", "ev", {"payload": {"rows": 5, "table": "sales_eu"}}) == []
    assert runner_.deliver("src", "ev", {"payload": {"rows": 50, "table": "costs"}}) == []
    (workflow,) = runner_.deliver("src", "ev", {"payload": {"rows": 50, "table": "sales_eu"}})
    assert arguments(workflow) == {"p": "sales_eu"}
    tree = parse_expression("(a == 'x' || b != 2) && c == true")
    assert evaluate(tree, {"a": "y", "b": 3.0, "c": True}) is True
    assert evaluate(tree, {"a": "y", "b": 2.0, "c": True}) is False
    with pytest.raises(Refused):
        parse_expression("a > 2")
