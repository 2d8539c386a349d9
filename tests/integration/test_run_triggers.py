"""Testing triggered flows locally: ``--trigger FLOW/RUN`` and ``--trigger-event NAME
--trigger-payload ...`` give a run its events; every task reads them lazily
(``current.trigger``), the client too (``Run.trigger``), ``@trigger``'s mappings set
the parameters the command line leaves out, and resume keeps the origin's events."""

from __future__ import annotations

import json
from pathlib import Path

from grange import Flow, Run
from support import Runner


def _upstream(runner: Runner, *args: str, ok: bool = True) -> str:
    result = runner.run("trigger_upstream", *args, ok=ok)
    assert result.run_id
    return result.run_id


def test_trigger_gives_every_task_the_upstream_run(runner: Runner, fork: bool) -> None:
    up = _upstream(runner)
    result = runner.run(
        "trigger_downstream", top=("--trigger", f"TriggerUpstreamFlow/{up}"), fork=fork
    )
    run = Flow("TriggerDownstreamFlow")[result.run_id]
    end_task = f"TriggerUpstreamFlow/{up}/end/2"
    expected = {
        "events": [("metaflow.TriggerUpstreamFlow.end", end_task, "run")],
        "run": f"TriggerUpstreamFlow/{up}",
        "model": "model-v1",
        "by_flow": f"TriggerUpstreamFlow/{up}",
        "payload_flow": "TriggerUpstreamFlow",
    }
    assert run["start"].task.data.seen_start == expected
    assert run.data.seen_end == expected
    # The client reads it back from the run's claim.
    trigger = Run(f"TriggerDownstreamFlow/{result.run_id}").trigger
    assert trigger is not None
    assert trigger.run.data.model == "model-v1"
    assert trigger.event.type == "run" and trigger.event.id == end_task
    payload = trigger.event.payload
    assert payload["pathspec"] == end_task and payload["run_id"] == up
    assert payload["auto-generated-by-metaflow"] is True
    assert "metaflow.TriggerUpstreamFlow.end" in trigger and "Nope" not in trigger


def test_a_run_without_events_has_no_trigger(runner: Runner) -> None:
    result = runner.run("trigger_downstream")
    run = Flow("TriggerDownstreamFlow")[result.run_id]
    assert run["start"].task.data.seen_start is None
    assert run.trigger is None


def test_trigger_refuses_a_failed_a_missing_and_a_malformed_run(runner: Runner) -> None:
    failed = _upstream(runner, "--fail", "true", ok=False)
    result = runner.run(
        "trigger_downstream", top=("--trigger", f"TriggerUpstreamFlow/{failed}"), ok=False
    )
    assert "only a successful run's end triggers a flow" in result.stderr
    assert "Traceback" not in result.stderr
    result = runner.run("trigger_downstream", top=("--trigger", "TriggerUpstreamFlow/99"), ok=False)
    assert "--trigger TriggerUpstreamFlow/99" in result.stderr and "Traceback" not in result.stderr
    result = runner.run("trigger_downstream", top=("--trigger", "TriggerUpstreamFlow"), ok=False)
    assert "expected FLOW/RUN" in result.stderr
    assert [r.successful for r in Flow("TriggerUpstreamFlow")] == [False]
    assert "TriggerDownstreamFlow" not in {f.id for f in _flows()}


def _flows() -> list[Flow]:
    from grange import Metaflow

    return list(Metaflow())


def test_resume_keeps_the_origin_runs_trigger(runner: Runner) -> None:
    up = _upstream(runner)
    failing = runner.env(GRANGE_TEST_FAIL_END="1")
    origin = runner(
        "trigger_downstream",
        "run",
        top=("--trigger", f"TriggerUpstreamFlow/{up}"),
        env=failing,
        ok=False,
    )
    resumed = runner.resume("trigger_downstream", "--origin-run-id", str(origin.run_id))
    run = Flow("TriggerDownstreamFlow")[resumed.run_id]
    assert run.data.seen_end["model"] == "model-v1"
    assert run.trigger is not None and run.trigger.run.pathspec == f"TriggerUpstreamFlow/{up}"
    refused = runner.resume(
        "trigger_downstream", top=("--trigger", f"TriggerUpstreamFlow/{up}"), ok=False
    )
    assert "resume keeps the origin run's trigger" in refused.stderr


def test_trigger_event_sets_the_mapped_parameters_and_the_payload(runner: Runner) -> None:
    top = ("--trigger-event", "new_data", "--trigger-payload", "date=2026-01-01")
    result = runner.run("trigger_event", top=(*top, "--trigger-payload", "row_count=12"))
    run = Flow("TriggerEventFlow")[result.run_id]
    start = run["start"].task.data
    assert start.values == ("2026-01-01", 12)
    assert start.event["name"] == "new_data" and start.event["type"] == "event"
    assert start.event["payload"]["date"] == "2026-01-01"
    assert start.event["payload"]["row_count"] == 12
    assert start.event["payload"]["id"] == start.event["id"]
    assert run.trigger.event.payload["date"] == "2026-01-01"
    assert run.trigger["new_data"].id == start.event["id"]
    # The command line wins over the event.
    result = runner.run("trigger_event", "--date", "2025-05-05", top=top)
    assert Flow("TriggerEventFlow")[result.run_id]["start"].task.data.values == ("2025-05-05", 0)


def test_trigger_payload_from_a_file_and_the_hidden_json_form(
    runner: Runner, tmp_path: Path
) -> None:
    (tmp_path / "payload.json").write_text(json.dumps({"date": "2026-02-02", "row_count": 3}))
    top = ("--trigger-event", "new_data", "--trigger-payload", "@payload.json")
    result = runner.run("trigger_event", top=(*top, "--trigger-payload", "row_count=4"))
    assert Flow("TriggerEventFlow")[result.run_id]["start"].task.data.values == ("2026-02-02", 4)
    events = [
        {
            "name": "new_data",
            "id": "e-1",
            "timestamp": 1767225600,
            "type": "event",
            "payload": {"date": "2026-03-03"},
        }
    ]
    (tmp_path / "events.json").write_text(json.dumps(events))
    result = runner.run("trigger_event", top=("--trigger-json", "@events.json"))
    run = Flow("TriggerEventFlow")[result.run_id]
    assert run["start"].task.data.values == ("2026-03-03", 0)
    assert run.trigger.event.id == "e-1" and run.trigger.event.timestamp.year == 2026


def test_bad_trigger_options_are_clear_errors(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    cases = [
        (("--trigger-event", "new_data", "--trigger-payload", "@bad.json"), "is not JSON"),
        (
            ("--trigger-event", "new_data", "--trigger-payload", "@missing.json"),
            "cannot read the file",
        ),
        (("--trigger-event", "new_data", "--trigger-payload", "nokey"), "neither KEY=VALUE"),
        (("--trigger-payload", "date=1"), "--trigger-event, which is missing"),
        (("--trigger-json", "[1]"), "is not an event"),
        (("--trigger-event", "new_data", "--trigger-payload", "rows=x"), None),
    ]
    for top, message in cases:
        result = runner.run("trigger_event", top=top, ok=None)
        if message is None:  # an unmapped field: the default applies
            assert result.returncode == 0, result.explain()
            continue
        assert result.returncode != 0 and message in result.stderr, result.explain()
        assert "Traceback" not in result.stderr
    result = runner.run(
        "trigger_event",
        top=("--trigger-event", "new_data", "--trigger-payload", "row_count=abc"),
        ok=False,
    )
    assert "comes from the payload of the run's trigger event" in result.stderr
    result = runner.run("trigger_event", top=("--trigger-event", "other_data"))
    assert "Event other_data is not one that TriggerEventFlow waits for (new_data)" in result.stderr


def test_a_flow_without_trigger_decorators_takes_events_and_says_so(runner: Runner) -> None:
    result = runner.run("trigger_upstream", top=("--trigger-event", "ping"))
    assert "TriggerUpstreamFlow has no @trigger or @trigger_on_finish" in result.stderr
    trigger = Run(f"TriggerUpstreamFlow/{result.run_id}").trigger
    assert trigger is not None and trigger.event.name == "ping"


def test_trigger_options_after_the_command_too(runner: Runner, tmp_path: Path) -> None:
    up = _upstream(runner)
    result = runner.run("trigger_downstream", "--trigger", f"TriggerUpstreamFlow/{up}")
    assert Run(f"TriggerDownstreamFlow/{result.run_id}").trigger.run.id == up  # type: ignore[union-attr]
    events = [{"name": "new_data", "id": "e-9", "timestamp": 5, "payload": {"date": "d9"}}]
    (tmp_path / "events.json").write_text(json.dumps(events))
    result = runner.run("trigger_event", "--trigger-json", "@events.json")
    assert Flow("TriggerEventFlow")[result.run_id]["start"].task.data.values == ("d9", 0)
    result = runner.run(
        "trigger_event", "--trigger-event", "b", top=("--trigger-event", "a"), ok=False
    )
    assert "--trigger-event is given before the command (a) and after it (b)" in result.stderr


def test_several_upstream_runs_are_all_listed_the_latest_first(runner: Runner) -> None:
    first, second = _upstream(runner), _upstream(runner)
    top = [f"--trigger=TriggerUpstreamFlow/{run_id}" for run_id in (first, second)]
    result = runner.run("trigger_downstream", top=tuple(top))
    trigger = Run(f"TriggerDownstreamFlow/{result.run_id}").trigger
    assert trigger is not None and trigger.runs is not None
    assert [r.pathspec for r in trigger.runs] == [
        f"TriggerUpstreamFlow/{second}",
        f"TriggerUpstreamFlow/{first}",
    ]
    assert trigger.run.pathspec == f"TriggerUpstreamFlow/{second}"
    assert [e.type for e in trigger.events] == ["run", "run"]
