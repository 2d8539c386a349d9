"""What ``@schedule``, ``@trigger`` and ``@trigger_on_finish`` resolve to: the one model
that the local scheduler (:mod:`grange.events`), the Argo compiler
(:mod:`grange.deploy.argo`) and a run's ``current.trigger`` all read.

The types and signatures below are a contract between the decorators
(:mod:`grange.decorators.schedule`, :mod:`grange.decorators.trigger`), the
command line, the local scheduler and the Argo compiler: keep them stable.

- :func:`schedule_of` → :class:`Schedule` (a 5-field cron and a timezone).
- :func:`triggers_of` → :class:`Triggers`: the events a deployment waits for
  (all of them: AND), each with its payload → parameter mapping; for
  ``@trigger_on_finish`` each dependency is an upstream flow's end event,
  named as Metaflow names it (:func:`end_event_name`).
- :class:`TriggerEvent`: one event that started a run, as recorded in the run's
  claim (``run.json`` ``extra["trigger"]``: a list of :meth:`TriggerEvent.to_dict`)
  and read back by ``current.trigger`` / ``Run.trigger``.
- :func:`parameters_from_events`: the parameter values a set of events gives a
  run (``@trigger`` mappings), as command-line strings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from grange.decorators.flow import flow_decorator, flow_problems_of
from grange.exceptions import DecoratorError

if TYPE_CHECKING:
    from grange.decorators.project import ProjectInfo

#: Prefix of the events runs emit when they succeed, as Metaflow's (drop-in compatible
#: with Metaflow's sensors and consumers): ``metaflow.<project_flow_name>.end``.
END_EVENT_PREFIX = "metaflow."


@dataclass(frozen=True)
class Schedule:
    """``@schedule``: when a deployment runs. ``cron`` has the 5 standard fields
    (minute hour day-of-month month day-of-week), as croniter and Argo read them:
    hourly ``0 * * * *``, daily ``0 0 * * *``, weekly ``0 0 * * 0``."""

    cron: str
    timezone: str | None = None  # an IANA name (checked with zoneinfo); None: UTC


@dataclass(frozen=True)
class UpstreamFlow:
    """One flow of ``@trigger_on_finish``: its runs' success triggers this flow."""

    flow: str
    project: str | None = None
    branch: str | None = None

    @property
    def project_flow_name(self) -> str:
        """``<project>.<branch>.<Flow>``, or the flow's name outside a project."""
        if self.project and self.branch:
            return f"{self.project}.{self.branch}.{self.flow}"
        return self.flow


@dataclass(frozen=True)
class EventDependency:
    """One event a deployment waits for. ``parameters`` maps a flow parameter's
    name to the payload field that sets it; ``upstream`` is set for
    ``@trigger_on_finish`` (the event is that flow's end event)."""

    name: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    upstream: UpstreamFlow | None = None


@dataclass(frozen=True)
class ResetAt:
    """``options={"reset_at": {"cron": ..., "timezone": ...}}``: events of an AND
    received before the last tick of ``cron`` no longer count."""

    cron: str
    timezone: str | None = None


@dataclass(frozen=True)
class Triggers:
    """What starts a deployed flow besides its schedule: every dependency must
    arrive (AND). ``kind`` says which decorator wrote it."""

    kind: Literal["event", "run"]
    dependencies: tuple[EventDependency, ...]
    reset_at: ResetAt | None = None


@dataclass(frozen=True)
class TriggerEvent:
    """One event that started a run (``current.trigger.event``).

    ``type`` is ``"event"`` for a published event and ``"run"`` for an upstream
    run's end (then ``id`` is the upstream end task's pathspec, as Metaflow's).
    ``timestamp`` is POSIX seconds; ``payload`` the event's whole payload.
    """

    name: str
    id: str
    timestamp: float
    type: Literal["event", "run"] = "event"
    payload: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "timestamp": self.timestamp,
            "type": self.type,
            "payload": dict(self.payload),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TriggerEvent:
        return cls(
            name=str(data["name"]),
            id=str(data["id"]),
            timestamp=float(data.get("timestamp") or 0.0),
            type="run" if data.get("type") == "run" else "event",
            payload=dict(data.get("payload") or {}),
        )


def end_event_name(project_flow_name: str) -> str:
    """The event a successful run of ``project_flow_name`` emits (Metaflow's name)."""
    return f"{END_EVENT_PREFIX}{project_flow_name}.end"


def schedule_of(flow_cls: type) -> Schedule | None:
    """The flow's ``@schedule``, resolved (None without one).

    Raises :class:`DecoratorError` when ``@schedule`` is misused (the problem
    lint reports at its line), e.g. a cron expression croniter cannot read.
    """
    from grange.decorators.schedule import ScheduleDecorator

    deco = _decorator(flow_cls, "schedule")
    if deco is None:
        return None
    assert isinstance(deco, ScheduleDecorator)
    schedule = deco.schedule
    _raise_if(cron_problem(schedule.cron, schedule.timezone), flow_cls, "@schedule")
    return schedule


def triggers_of(flow_cls: type, project: ProjectInfo | None) -> Triggers | None:
    """The flow's ``@trigger`` or ``@trigger_on_finish``, resolved for a deployment on
    ``project``'s branch (upstream flows default to the same project and branch)."""
    from grange.decorators.trigger import TriggerDecorator, TriggerOnFinishDecorator

    event_deco = _decorator(flow_cls, "trigger")
    run_deco = _decorator(flow_cls, "trigger_on_finish")
    flow = flow_cls.__name__
    if event_deco is not None and run_deco is not None:
        raise DecoratorError(
            f"{flow} has both @trigger and @trigger_on_finish; a flow is started by events "
            "or by upstream flows' ends, not both",
            fix="keep one of the two; an upstream end is the event "
            "'metaflow.<Flow>.end', which @trigger(events=[...]) can list with others",
        )
    if event_deco is not None:
        assert isinstance(event_deco, TriggerDecorator)
        deps = tuple(EventDependency(name, dict(params)) for name, params in event_deco.events)
        reset_at = event_deco.reset_at
        kind: Literal["event", "run"] = "event"
    elif run_deco is not None:
        assert isinstance(run_deco, TriggerOnFinishDecorator)
        deps = tuple(_upstream_dependency(flow, spec, project) for spec in run_deco.upstream_flows)
        reset_at = run_deco.reset_at
        kind = "run"
    else:
        return None
    if reset_at is not None:
        _raise_if(cron_problem(reset_at.cron, reset_at.timezone), flow_cls, "options={'reset_at'}")
    return Triggers(kind=kind, dependencies=deps, reset_at=reset_at)


def _upstream_dependency(
    flow: str, spec: UpstreamFlow, project: ProjectInfo | None
) -> EventDependency:
    """An upstream flow as written, completed with the deploying flow's project and
    branch (Metaflow's rule: what is not written is inherited)."""
    project_name = spec.project or (project.project_name if project else None)
    branch = spec.branch or (project.branch_name if project else None)
    if bool(project_name) != bool(branch):
        missing = "project_branch" if project_name else "project"
        raise DecoratorError(
            f"@trigger_on_finish on {flow}: upstream flow {spec.flow} names a "
            f"{'project' if project_name else 'branch'} but no {missing.replace('_', ' ')}, "
            "so the event it waits for would never be sent",
            fix=f"give both, e.g. flow={{'name': '{spec.flow}', 'project': 'my_project', "
            "'project_branch': 'prod'}, or 'my_project.prod." + spec.flow + "', or put "
            f"@project on {flow}",
        )
    upstream = UpstreamFlow(spec.flow, project_name, branch)
    return EventDependency(end_event_name(upstream.project_flow_name), {}, upstream)


def parameters_from_events(
    flow_cls: type, triggers: Triggers, events: Sequence[TriggerEvent]
) -> dict[str, str]:
    """The values the events' payloads give the flow's parameters (``@trigger``
    mappings; one event with no mapping maps every parameter to the payload field
    of its name), as command-line strings (strings as they are, others as JSON).

    A payload without a mapped field gives that parameter nothing (its default
    applies); when several events share a name, the latest one counts. Keys are
    the parameters' names as the flow defines them.
    """
    if triggers.kind != "event" or not events:
        return {}
    names = {_normalized(p.name): p.name for p in _flow_parameters(flow_cls)}
    latest: dict[str, TriggerEvent] = {}
    for event in sorted(events, key=lambda e: e.timestamp):
        latest[event.name] = event
    values: dict[str, str] = {}
    auto = len(triggers.dependencies) == 1 and not triggers.dependencies[0].parameters
    for dep in triggers.dependencies:
        found = latest.get(dep.name)
        if found is None:
            continue
        event = found
        mapping = dict(dep.parameters) if not auto else {n: n for n in names.values()}
        for param, field_name in mapping.items():
            name = names.get(_normalized(param))
            if name is None or field_name not in event.payload:
                continue
            value = event.payload[field_name]
            values[name] = value if isinstance(value, str) else json.dumps(value)
    return values


# -- cron ---------------------------------------------------------------------


def normalize_cron(expression: object, where: str) -> str:
    """``expression`` as a 5-field cron: a 5-field one as it is; Metaflow's
    6-field (AWS EventBridge) form ``minute hour day-of-month month day-of-week
    year`` without its year, as Metaflow does for Argo. ``?`` ("any") becomes
    ``*``. Raises :class:`DecoratorError` naming ``where`` when neither."""
    if not isinstance(expression, str) or not expression.strip():
        raise DecoratorError(
            f"{where}: cron={expression!r} is not a cron expression",
            fix="give 5 fields, minute hour day-of-month month day-of-week, "
            "e.g. cron='30 2 * * *' (02:30 every day)",
        )
    fields = expression.split()
    if len(fields) == 6:
        if fields[5] not in ("*", "?"):
            raise DecoratorError(
                f"{where}: cron={expression!r} has a year field ({fields[5]!r}); a schedule "
                "repeats every year",
                fix="leave the year out (5 fields: minute hour day-of-month month "
                "day-of-week), or write '*' for it",
            )
        fields = fields[:5]
    if len(fields) != 5:
        raise DecoratorError(
            f"{where}: cron={expression!r} has {len(fields)} fields; a cron expression has 5 "
            "(minute hour day-of-month month day-of-week)",
            fix="e.g. cron='0 6 * * 1-5' (06:00 on weekdays); Metaflow's 6-field form with "
            "a trailing year ('0 6 ? * 2-6 *') is accepted too",
        )
    return " ".join("*" if f == "?" else f for f in fields)


def cron_problem(cron: str, timezone: str | None) -> str | None:
    """Why croniter or zoneinfo cannot read ``cron``/``timezone``, or None.

    Imports croniter and zoneinfo: called by lint, deployments and the
    scheduler, never while a flow module is imported."""
    import importlib
    import re

    # Quartz's L, W and # read differently (or not at all) in Argo's cron parser:
    # a schedule means the same on one machine and on a cluster, or is refused.
    for item in re.split(r"[\s,]+", cron.upper()):
        if "#" in item or re.fullmatch(r"[0-9]*L|[0-9]*W|LW", item):
            return (
                f"cron expression {cron!r} uses {item!r} (Quartz's L, W or #), which Argo's "
                "cron parser does not read the same way; write the days out"
            )
    # Through importlib: croniter ships no type hints (its stubs are not installed).
    croniter = importlib.import_module("croniter").croniter
    if not croniter.is_valid(cron):
        return f"cron expression {cron!r} is not valid (croniter cannot read it)"
    if timezone is not None:
        problem = timezone_problem(timezone)
        if problem:
            return problem
    return None


def timezone_problem(timezone: object) -> str | None:
    """Why ``timezone`` is not an IANA time zone name, or None."""
    import zoneinfo

    if not isinstance(timezone, str) or not timezone:
        return f"timezone={timezone!r} is not an IANA time zone name"
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"timezone {timezone!r} is not an IANA time zone name"
    return None


# -- helpers --------------------------------------------------------------------


def _decorator(flow_cls: type, name: str) -> object | None:
    deco = flow_decorator(flow_cls, name)
    if deco is None:
        broken = [p for p in flow_problems_of(flow_cls) if p.decorator == name]
        if broken:
            raise DecoratorError(f"{flow_cls.__name__}: {broken[0].message}", fix=broken[0].fix)
    return deco


def _raise_if(problem: str | None, flow_cls: type, what: str) -> None:
    if problem:
        raise DecoratorError(
            f"{what} on {flow_cls.__name__}: {problem}",
            fix="e.g. cron='0 6 * * 1-5' and an IANA time zone such as 'Europe/Paris'; "
            "run 'python flow.py check' to see it at its line",
        )


def _normalized(name: str) -> str:
    return name.replace("-", "_").lower()


def _flow_parameters(flow_cls: type) -> list[Any]:
    """The flow's parameters (objects with ``name``, ``required``, ``default``),
    found by class name: :mod:`grange.parameters` is a sibling layer."""
    seen: dict[str, Any] = {}
    for klass in reversed(flow_cls.__mro__):
        for attr, value in vars(klass).items():
            if any(
                k.__name__ == "Parameter" and k.__module__ == "grange.parameters"
                for k in type(value).__mro__
            ):
                seen.pop(attr, None)
                seen[attr] = value
    return list(seen.values())
