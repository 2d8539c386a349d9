"""``current.trigger`` and ``Run.trigger``: the events that started a run (Metaflow's ``Trigger``).

A run started by an event (``@trigger``), by an upstream run's end
(``@trigger_on_finish``), or locally with ``--trigger`` / ``--trigger-event``
records those events in its claim (``run.json`` ``extra["trigger"]``, a list of
:meth:`grange.decorators.triggers.TriggerEvent.to_dict`). :class:`Trigger`
reads them back::

    current.trigger.event.payload["date"]     # the latest event's payload
    current.trigger.run.data.model            # the upstream run (@trigger_on_finish)
    current.trigger["TrainFlow"]              # an upstream run by its flow's name
    current.trigger["data_ready"]             # an event by its name

Events are :class:`MetaflowEvent` tuples of 4 fields, as Metaflow's (``name``,
``id``, ``timestamp`` as a datetime, ``type`` ``"event"`` or ``"run"``: ``name, id,
ts, kind = event`` works), and, beyond Metaflow's, the whole ``payload`` as an
attribute outside the tuple. A run that no event started has no trigger (``None``).
What a run recorded is read leniently: an odd stored value (a timestamp out of
range, a field missing) never makes ``current.trigger`` raise.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from grange.client.base import timestamp
from grange.decorators.triggers import TriggerEvent, end_event_name

if TYPE_CHECKING:
    from grange.client.run import Run


class _EventFields(NamedTuple):
    name: str
    id: str
    timestamp: datetime | None
    type: str  # "event" or "run"


class MetaflowEvent(_EventFields):
    """One event that started the run: Metaflow's 4-field tuple (``name``, ``id``,
    ``timestamp``, ``type``) with the event's whole ``payload`` as an attribute that
    is not one of the tuple's items (unpacking, indexing, ``len`` and equality are
    Metaflow's)."""

    payload: Mapping[str, Any] = MappingProxyType({})

    def __new__(
        cls,
        name: str,
        id: str,
        timestamp: datetime | None,
        type: str,
        payload: Mapping[str, Any] | None = None,
    ) -> MetaflowEvent:
        self = super().__new__(cls, name, id, timestamp, type)
        if payload is not None:
            self.payload = payload
        return self


class Trigger:
    """The events that started a run, the latest first."""

    def __init__(self, events: Sequence[TriggerEvent | Mapping[str, Any]] = ()) -> None:
        parsed = [_event(e) for e in events]
        parsed.sort(key=lambda pair: pair[0], reverse=True)
        self._events = [event for _, event in parsed]
        self._runs: list[Run] | None = None

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any] | None) -> Trigger | None:
        """The trigger recorded in a run claim's ``extra``, or None (the run had none)."""
        events = extra.get("trigger") if isinstance(extra, Mapping) else None
        if isinstance(events, Mapping):
            events = [events]
        if not isinstance(events, (list, tuple)):
            return None
        events = [e for e in events if isinstance(e, (Mapping, TriggerEvent))]
        return cls(events) if events else None

    @property
    def event(self) -> MetaflowEvent | None:
        """The latest event that started the run."""
        return next(iter(self._events), None)

    @property
    def events(self) -> list[MetaflowEvent] | None:
        """Every event that started the run, the latest first (None: none)."""
        return list(self._events) or None

    @property
    def run(self) -> Run | None:
        """The latest upstream run that started this one (``@trigger_on_finish``), or None."""
        runs = self.runs
        return runs[0] if runs else None

    @property
    def runs(self) -> list[Run] | None:
        """The upstream runs whose ends started this run, the latest first (None: none).

        Read whatever the namespace (as Metaflow's), from the client's datastore."""
        if self._runs is None:
            from grange.client.run import Run

            self._runs = [
                Run("/".join(e.id.split("/")[:2]), _namespace_check=False)
                for e in self._events
                if e.type == "run" and _upstream_flow(e) is not None
            ]
        return list(self._runs) or None

    def __getitem__(self, key: str) -> Run | MetaflowEvent:
        """An upstream run by its flow's name, else an event by its name."""
        for event in self._events:
            if event.type == "run" and _upstream_flow(event) == key:
                for run in self.runs or ():
                    if run.path_components[0] == key:
                        return run
        for event in self._events:
            if event.name == key:
                return event
        raise KeyError(key)

    def __iter__(self) -> Iterator[MetaflowEvent]:
        return iter(list(self._events))

    def __contains__(self, key: str) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __len__(self) -> int:
        return len(self._events)

    def __repr__(self) -> str:
        return f"Trigger({', '.join(e.name for e in self._events)})"


def _upstream_flow(event: MetaflowEvent) -> str | None:
    """The flow of a ``run`` event's upstream run, or None when the event cannot name
    one: its id is not a pathspec, or the pathspec's flow is not the flow its name
    (``metaflow.[project.branch.]<Flow>.end``) says ended. Who publishes to an event
    endpoint writes the payload's id: a forged end event of flow A must not expose a run
    of flow B as ``current.trigger.run``."""
    parts = event.id.split("/")
    if len(parts) < 2 or not all(parts[:2]):
        return None
    prefix, suffix = "metaflow.", ".end"
    name = event.name
    if not (name.startswith(prefix) and name.endswith(suffix)):
        return None
    if name[len(prefix) : -len(suffix)].split(".")[-1] != parts[0]:
        return None
    return parts[0]


def _event(item: TriggerEvent | Mapping[str, Any]) -> tuple[float, MetaflowEvent]:
    """A recorded event and its sort key (its time; odd times sort last), read leniently:
    a value that cannot be a datetime gives ``timestamp=None``, never an error."""
    if isinstance(item, TriggerEvent):
        item = item.to_dict()
    raw = item.get("timestamp")
    at: datetime | None = None
    key = float("-inf")
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw:
        try:
            at = timestamp(float(raw))
            key = float(raw)
        except (OverflowError, OSError, ValueError):
            at = None
    payload = item.get("payload")
    return key, MetaflowEvent(
        str(item.get("name") or ""),
        str(item.get("id") or ""),
        at,
        "run" if item.get("type") == "run" else "event",
        dict(payload) if isinstance(payload, Mapping) else {},
    )


def run_end_event(run: Run) -> TriggerEvent:
    """The end event a successful ``run`` emitted (or would have): Metaflow's name and
    payload (``metaflow.<project_flow_name>.end``), for ``--trigger FLOW/RUN``."""
    end = run.end_task
    if end is None:  # a successful run has an end task
        raise ValueError(f"run {run.pathspec} has no end task")
    flow, run_id, step, task_id = end.path_components
    tags = {t.partition(":")[0]: t.partition(":")[2] for t in run.system_tags if ":" in t}
    project, branch = tags.get("project"), tags.get("project_branch")
    project_flow_name = f"{project}.{branch}.{flow}" if project and branch else None
    finished = run.finished_at
    at = int(finished.timestamp()) if finished is not None else 0
    name = end_event_name(project_flow_name or flow)
    payload: dict[str, Any] = {
        "name": name,
        "id": end.pathspec,
        "timestamp": at,
        "pathspec": end.pathspec,
        "flow_name": flow,
        "run_id": run_id,
        "step_name": step,
        "task_id": task_id,
        "project_name": project,
        "branch_name": branch,
        "is_user_branch": bool(branch and branch.startswith("user.")),
        "is_production": bool(branch and (branch == "prod" or branch.startswith("prod."))),
        "auto-generated-by-metaflow": True,
    }
    if project_flow_name:
        payload["project_flow_name"] = project_flow_name
    # The payload's time is whole seconds (the wire format); the event's is exact, so
    # that several upstream runs sort the latest first, as Metaflow's by finished_at.
    exact = finished.timestamp() if finished is not None else 0.0
    return TriggerEvent(name=name, id=end.pathspec, timestamp=exact, type="run", payload=payload)
