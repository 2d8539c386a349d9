"""What ``@schedule``, ``@trigger`` and ``@trigger_on_finish`` resolve to: the one model
that the local scheduler (:mod:`grange.events`), the Argo compiler
(:mod:`grange.deploy.argo`) and a run's ``current.trigger`` all read.

GROUNDWORK (issue 12): the types and signatures below are the contract between
the parts of the issue; the decorators helper fills in the bodies without
changing them.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

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
    """The flow's ``@schedule``, resolved (None without one)."""
    raise NotImplementedError


def triggers_of(flow_cls: type, project: ProjectInfo | None) -> Triggers | None:
    """The flow's ``@trigger`` or ``@trigger_on_finish``, resolved for a deployment on
    ``project``'s branch (upstream flows default to the same project and branch)."""
    raise NotImplementedError


def parameters_from_events(
    flow_cls: type, triggers: Triggers, events: Sequence[TriggerEvent]
) -> dict[str, str]:
    """The values the events' payloads give the flow's parameters (``@trigger``
    mappings; one event with no mapping maps every parameter to the payload field
    of its name), as command-line strings (strings as they are, others as JSON)."""
    raise NotImplementedError
