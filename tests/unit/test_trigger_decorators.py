"""@schedule, @trigger and @trigger_on_finish: what they resolve to (schedule_of,
triggers_of, parameters_from_events) and every misuse, reported by lint at the
decorator's line."""

from __future__ import annotations

from typing import Any

import pytest

from grange import FlowSpec, Parameter, project, schedule, step, trigger, trigger_on_finish
from grange.decorators.project import project_info
from grange.decorators.triggers import (
    EventDependency,
    ResetAt,
    Schedule,
    TriggerEvent,
    Triggers,
    UpstreamFlow,
    end_event_name,
    parameters_from_events,
    schedule_of,
    triggers_of,
)
from grange.exceptions import DecoratorError
from grange.graph import graph_of
from grange.graph.lint import lint


def _flow(*decorators: Any, **parameters: Parameter) -> type[FlowSpec]:
    """A two-step flow with ``parameters``, decorated (the first one written on top)."""

    def start(self: Any) -> None:
        self.next(self.end)

    def end(self: Any) -> None:
        pass

    body: dict[str, Any] = {"start": step(start), "end": step(end), **parameters}
    cls: type[FlowSpec] = type("TFlow", (FlowSpec,), body)
    for deco in reversed(decorators):
        cls = deco(cls)
    return cls


def _problems(cls: type) -> list[str]:
    return [p.message for p in lint(graph_of(cls))]


class Plain(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


# -- @schedule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "cron"),
    [
        ({}, "0 0 * * *"),
        ({"daily": True}, "0 0 * * *"),
        ({"hourly": True}, "0 * * * *"),
        ({"weekly": True}, "0 0 * * 0"),
        ({"hourly": True, "daily": False}, "0 * * * *"),
        ({"cron": "30 2 * * 1-5"}, "30 2 * * 1-5"),
        ({"cron": "0 0 ? * SUN *"}, "0 0 * * SUN"),  # Metaflow's 6-field form
        ({"cron": " 0  6 ? * * "}, "0 6 * * *"),
    ],
)
def test_schedule_resolves_to_a_five_field_cron(kwargs: dict[str, Any], cron: str) -> None:
    @schedule(**kwargs)
    class Scheduled(Plain):
        pass

    assert schedule_of(Scheduled) == Schedule(cron, None)
    assert _problems(Scheduled) == []


def test_schedule_timezone_and_no_schedule() -> None:
    @schedule(cron="0 6 * * *", timezone="Europe/Paris")
    class InParis(Plain):
        pass

    assert schedule_of(InParis) == Schedule("0 6 * * *", "Europe/Paris")
    assert schedule_of(Plain) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hourly": True, "daily": True}, "@schedule gives hourly and daily; a flow has one"),
        ({"weekly": True, "cron": "0 0 * * *"}, "@schedule gives weekly and cron"),
        ({"daily": False}, "@schedule(daily=False) gives no schedule"),
        ({"hourly": "yes"}, "@schedule(hourly='yes') must be True or False"),
        ({"cron": "0 0 * *"}, "cron='0 0 * *' has 4 fields; a cron expression has 5"),
        ({"cron": "0 0 * * ? 2026"}, "has a year field ('2026')"),
        ({"cron": 5}, "cron=5 is not a cron expression"),
        ({"timezone": ""}, "@schedule(timezone='') is not an IANA time zone name"),
        ({"every": "day"}, "@schedule got unknown argument(s) every"),
    ],
)
def test_schedule_misuses(kwargs: dict[str, Any], message: str) -> None:
    cls = _flow(schedule(**kwargs))
    problems = _problems(cls)
    assert len(problems) == 1 and message in problems[0], problems
    with pytest.raises(DecoratorError, match="TFlow"):
        schedule_of(cls)


def test_a_cron_or_timezone_croniter_or_zoneinfo_refuses_is_a_lint_error() -> None:
    bad_cron = _flow(schedule(cron="61 * * * *"))
    assert _problems(bad_cron) == [
        "@schedule: cron expression '61 * * * *' is not valid (croniter cannot read it)"
    ]
    with pytest.raises(DecoratorError, match="'61 \\* \\* \\* \\*' is not valid"):
        schedule_of(bad_cron)
    for quartz in ("0 0 L * *", "0 0 * * 5L", "0 0 15W * *", "0 0 * * MON#2"):
        (problem,) = _problems(_flow(schedule(cron=quartz)))
        assert "(Quartz's L, W or #)" in problem
    assert _problems(_flow(schedule(cron="0 0 * JUL WED"))) == []
    bad_zone = _flow(schedule(daily=True, timezone="Mars/Olympus"))
    assert _problems(bad_zone) == [
        "@schedule: timezone 'Mars/Olympus' is not an IANA time zone name"
    ]


def test_schedule_on_a_flow_with_a_required_parameter_is_an_error() -> None:
    cls = _flow(schedule(hourly=True), day=Parameter("day", required=True))
    (problem,) = lint(graph_of(cls))
    assert "parameter(s) 'day' are required with no default" in problem.message
    assert problem.rule == "flow-decorator"
    ok = _flow(schedule(hourly=True), day=Parameter("day", required=True, default="x"))
    assert _problems(ok) == []


def test_schedule_is_reported_at_its_line() -> None:
    @schedule(cron="0 0 * *")  # marker: bad-schedule
    class BadLine(Plain):
        pass

    (problem,) = lint(graph_of(BadLine))
    assert problem.file == __file__
    with open(__file__, encoding="utf-8") as fh:
        assert "marker: bad-schedule" in fh.read().splitlines()[problem.line - 1]


# -- @trigger ---------------------------------------------------------------------------------


def test_trigger_forms_resolve_to_event_dependencies() -> None:
    cls = _flow(trigger(event="data_ready"))
    assert triggers_of(cls, None) == Triggers("event", (EventDependency("data_ready", {}),))
    cls = _flow(
        trigger(
            events=[
                {"name": "a", "parameters": {"alpha": "x"}},
                {"name": "b", "parameters": ["beta", ("gamma", "g")]},
                "c",
            ],
            options={"reset_at": {"cron": "0 0 * * *", "timezone": "UTC"}},
        ),
        alpha=Parameter("alpha", default=1),
        beta=Parameter("beta", default=1),
        gamma=Parameter("gamma", default=1),
    )
    assert triggers_of(cls, None) == Triggers(
        "event",
        (
            EventDependency("a", {"alpha": "x"}),
            EventDependency("b", {"beta": "beta", "gamma": "g"}),
            EventDependency("c", {}),
        ),
        ResetAt("0 0 * * *", "UTC"),
    )
    assert _problems(cls) == []
    assert triggers_of(Plain, None) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "@trigger names no event"),
        ({"event": "a", "events": ["b"]}, "@trigger gives both event= and events="),
        ({"events": "a"}, "@trigger(events='a') must be a list"),
        ({"events": ["a", "a"]}, "lists the event 'a' twice"),
        ({"event": {"parameters": {}}}, "has no 'name'"),
        ({"event": {"name": "a", "params": {}}}, "has unknown key(s) params"),
        ({"event": {"name": "a", "parameters": "x"}}, "is neither a dict nor a list"),
        ({"event": {"name": "a", "parameters": [("x",)]}}, "is neither a name nor a (param"),
        ({"event": {"name": "a", "parameters": {"x": 1}}}, "must map a parameter name"),
        ({"event": {"name": "a", "parameters": ["x", ("x", "y")]}}, "maps parameter 'x' twice"),
        ({"event": ""}, "event name '' must be a non-empty string"),
        ({"event": 3}, "event 3 is neither a name nor a dict"),
        ({"event": lambda ctx: "a"}, "evaluated at deploy time) is not supported"),
        ({"event": "a", "options": {"resetat": 1}}, "@trigger: unknown option(s) resetat"),
        ({"flow": "Up"}, "@trigger takes events, not flow="),
        ({"event": "a", "options": []}, "@trigger(options=[]) must be a dict"),
        ({"event": "a", "options": {"reset_at": {}}}, "reset_at={} needs a 'cron'"),
        (
            {"event": "a", "options": {"reset_at": {"cron": "0 0 * * *", "tz": "UTC"}}},
            "reset_at has unknown key(s) tz",
        ),
    ],
)
def test_trigger_misuses(kwargs: dict[str, Any], message: str) -> None:
    cls = _flow(trigger(**kwargs), x=Parameter("x", default=1))
    problems = _problems(cls)
    assert len(problems) == 1 and message in problems[0], problems
    with pytest.raises(DecoratorError):
        triggers_of(cls, None)


def test_trigger_twice_on_a_flow_is_refused_as_in_metaflow() -> None:
    cls = _flow(trigger(event="a"), trigger(event="b"))
    assert _problems(cls) == ["@trigger is given twice on TFlow"]


def test_a_mapping_to_a_parameter_the_flow_lacks_says_which() -> None:
    cls = _flow(
        trigger(event={"name": "a", "parameters": {"alhpa": "x"}}),
        alpha=Parameter("alpha", default=1),
    )
    assert _problems(cls) == [
        "@trigger maps event 'a' to parameter 'alhpa', which TFlow does not have; "
        "did you mean 'alpha'?"
    ]


def test_a_required_parameter_no_event_maps_is_an_error() -> None:
    params = {"day": Parameter("day", required=True), "n": Parameter("n", default=1)}
    cls = _flow(trigger(events=[{"name": "a", "parameters": {"n": "n"}}, "b"]), **params)
    (message,) = _problems(cls)
    assert "parameter(s) 'day' are required with no default" in message
    mapped = _flow(trigger(events=[{"name": "a", "parameters": {"day": "d"}}, "b"]), **params)
    assert _problems(mapped) == []
    # One event without a mapping: every parameter reads the payload field of its name.
    assert _problems(_flow(trigger(event="a"), **params)) == []


def test_a_bad_reset_cron_is_a_lint_error() -> None:
    cls = _flow(trigger(event="a", options={"reset_at": {"cron": "0 25 * * *"}}))
    assert _problems(cls) == [
        "options={'reset_at': ...}: cron expression '0 25 * * *' is not valid "
        "(croniter cannot read it)"
    ]


def test_trigger_and_trigger_on_finish_together_are_an_error() -> None:
    cls = _flow(trigger(event="a"), trigger_on_finish(flow="Up"))
    assert _problems(cls) == [
        "TFlow has both @trigger and @trigger_on_finish; a flow is started by events or "
        "by upstream flows' ends, not both"
    ]
    with pytest.raises(DecoratorError, match="both @trigger and @trigger_on_finish"):
        triggers_of(cls, None)


# -- @trigger_on_finish ------------------------------------------------------------------


def test_trigger_on_finish_without_project_waits_for_the_plain_end_event() -> None:
    cls = _flow(trigger_on_finish(flows=["Up", "Other"]))
    assert triggers_of(cls, None) == Triggers(
        "run",
        (
            EventDependency("metaflow.Up.end", {}, UpstreamFlow("Up")),
            EventDependency("metaflow.Other.end", {}, UpstreamFlow("Other")),
        ),
    )


def test_trigger_on_finish_inherits_the_project_and_branch() -> None:
    cls = _flow(
        project(name="fraud"),
        trigger_on_finish(
            flows=[
                "Up",
                "other.prod.v2.Train",
                {"name": "Feat", "project_branch": "prod"},
                {"name": "Ext", "project": "ext"},
            ]
        ),
    )
    info = project_info(cls, user="ann")
    deps = triggers_of(cls, info).dependencies  # type: ignore[union-attr]
    assert [(d.name, d.upstream) for d in deps] == [
        ("metaflow.fraud.user.ann.Up.end", UpstreamFlow("Up", "fraud", "user.ann")),
        ("metaflow.other.prod.v2.Train.end", UpstreamFlow("Train", "other", "prod.v2")),
        ("metaflow.fraud.prod.Feat.end", UpstreamFlow("Feat", "fraud", "prod")),
        ("metaflow.ext.user.ann.Ext.end", UpstreamFlow("Ext", "ext", "user.ann")),
    ]
    prod = project_info(cls, user="ann", production=True)
    assert triggers_of(cls, prod).dependencies[0].name == "metaflow.fraud.prod.Up.end"  # type: ignore[union-attr]
    assert _problems(cls) == []


def test_a_half_named_project_without_project_on_the_flow_is_an_error() -> None:
    cls = _flow(trigger_on_finish(flow={"name": "Up", "project": "p"}))
    with pytest.raises(DecoratorError, match="names a project but no project branch"):
        triggers_of(cls, None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "@trigger_on_finish names no flow"),
        ({"flow": "A", "flows": ["B"]}, "gives both flow= and flows="),
        ({"flows": "A"}, "(flows='A') must be a list"),
        ({"flow": "proj.Flow"}, "is neither a flow name nor 'project.branch.Flow'"),
        ({"flow": "a.b.Bad-Name"}, "'Bad-Name' is not a flow name"),
        ({"flow": {"name": "a.B"}}, "'a.B' is not a flow name"),
        ({"flow": {"project": "p"}}, "has no 'name'"),
        ({"flow": {"name": "A", "branch": "x"}}, "has unknown key(s) branch"),
        ({"flow": {"name": "A", "project": 3}}, "project must be a non-empty string"),
        ({"flows": ["A", "A"]}, "lists the same upstream flow twice"),
        ({"flow": 3}, "flow 3 is neither a name nor a dict"),
        ({"flow": "A", "options": {"x": 1}}, "unknown option(s) x"),
    ],
)
def test_trigger_on_finish_misuses(kwargs: dict[str, Any], message: str) -> None:
    problems = _problems(_flow(trigger_on_finish(**kwargs)))
    assert len(problems) == 1 and message in problems[0], problems


def test_trigger_on_finish_refuses_its_own_flow_and_required_parameters() -> None:
    assert "on TFlow itself" in _problems(_flow(trigger_on_finish(flow="TFlow")))[0]
    cls = _flow(trigger_on_finish(flow="Up"), day=Parameter("day", required=True))
    assert "'day' are required with no default" in _problems(cls)[0]


# -- parameters_from_events -----------------------------------------------------------------


def _event(name: str, at: float = 1.0, **payload: Any) -> TriggerEvent:
    return TriggerEvent(name, f"id-{name}-{at}", at, "event", {"name": name, **payload})


def test_parameters_from_mapped_fields_as_command_line_text() -> None:
    cls = _flow(
        trigger(
            events=[
                {"name": "a", "parameters": {"date": "day", "rows-in": "n"}},
                {"name": "b", "parameters": {"cfg": "config"}},
            ]
        ),
        date=Parameter("date", default="x"),
        rows_in=Parameter("rows-in", default=0),
        cfg=Parameter("cfg", default="{}"),
    )
    triggers = triggers_of(cls, None)
    assert triggers is not None
    events = [
        _event("a", 1.0, day="2026-01-01", n=3),
        _event("a", 2.0, day="2026-01-02"),  # the latest of a name counts
        _event("b", 1.0, config={"k": [1, True]}),
        _event("unrelated", 1.0, day="no"),
    ]
    assert parameters_from_events(cls, triggers, events) == {
        "date": "2026-01-02",
        "cfg": '{"k": [1, true]}',
    }
    assert parameters_from_events(cls, triggers, []) == {}


def test_one_event_without_mapping_maps_every_parameter_by_name() -> None:
    cls = _flow(
        trigger(event="a"),
        alpha=Parameter("alpha", default=1),
        beta=Parameter("beta", default="x"),
    )
    triggers = triggers_of(cls, None)
    assert triggers is not None
    assert parameters_from_events(cls, triggers, [_event("a", alpha=0.5, other=1)]) == {
        "alpha": "0.5"
    }


def test_upstream_ends_set_no_parameter() -> None:
    cls = _flow(trigger_on_finish(flow="Up"), alpha=Parameter("alpha", default=1))
    triggers = triggers_of(cls, None)
    assert triggers is not None
    end = TriggerEvent(end_event_name("Up"), "Up/1/end/2", 1.0, "run", {"alpha": 3})
    assert parameters_from_events(cls, triggers, [end]) == {}


def test_trigger_event_round_trips() -> None:
    event = TriggerEvent("a", "1", 12.5, "run", {"k": [1]})
    assert TriggerEvent.from_dict(event.to_dict()) == event
    assert TriggerEvent.from_dict({"name": "a", "id": 1}) == TriggerEvent("a", "1", 0.0)


def test_when_two_events_map_a_parameter_the_later_listed_wins() -> None:
    cls = _flow(
        trigger(
            events=[{"name": "a", "parameters": ["day"]}, {"name": "b", "parameters": ["day"]}]
        ),
        day=Parameter("day", default="x"),
    )
    triggers = triggers_of(cls, None)
    assert triggers is not None
    events = [_event("b", 1.0, day="from-b"), _event("a", 2.0, day="from-a")]
    assert parameters_from_events(cls, triggers, events) == {"day": "from-b"}
