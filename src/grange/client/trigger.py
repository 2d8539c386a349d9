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

Events are :class:`MetaflowEvent` tuples (``name``, ``id``, ``timestamp`` as a
datetime, ``type`` ``"event"`` or ``"run"``) and, beyond Metaflow's, the whole
``payload``. A run that no event started has no trigger (``None``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from grange.client.base import timestamp
from grange.decorators.triggers import TriggerEvent, end_event_name

if TYPE_CHECKING:
    from grange.client.run import Run


class MetaflowEvent(NamedTuple):
    """One event that started the run (Metaflow's name), with its payload."""

    name: str
    id: str
    timestamp: datetime | None
    type: str  # "event" or "run"
    payload: Mapping[str, Any] = {}


class Trigger:
    """The events that started a run, the latest first."""

    def __init__(self, events: Sequence[TriggerEvent | Mapping[str, Any]] = ()) -> None:
        parsed = [e if isinstance(e, TriggerEvent) else TriggerEvent.from_dict(e) for e in events]
        parsed.sort(key=lambda e: e.timestamp, reverse=True)
        self._events = [
            MetaflowEvent(
                e.name, e.id, timestamp(e.timestamp) if e.timestamp else None, e.type, e.payload
            )
            for e in parsed
        ]
        self._runs: list[Run] | None = None

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any] | None) -> Trigger | None:
        """The trigger recorded in a run claim's ``extra``, or None (the run had none)."""
        events = (extra or {}).get("trigger")
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
                if e.type == "run" and len(e.id.split("/")) >= 2  # a task's pathspec
            ]
        return list(self._runs) or None

    def __getitem__(self, key: str) -> Run | MetaflowEvent:
        """An upstream run by its flow's name, else an event by its name."""
        for event in self._events:
            if event.type == "run" and event.id.split("/")[0] == key:
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
    return TriggerEvent(name=name, id=end.pathspec, timestamp=at, type="run", payload=payload)
