"""Which events start a run: a deployment's dependencies (AND), with a reset window.

Pure functions over the deployment's *pending set*: the latest event received
for each of its dependencies, by dependency name (an event dict as
:meth:`~grange.decorators.triggers.TriggerEvent.to_dict` makes it, plus
``received_at``). The rules, as Argo Events' sensors apply them:

- an event counts for the dependencies of its name; a later event of the same
  name replaces the earlier one in the set;
- when every dependency has an event, one run starts with those events (in
  the order of the dependencies) and the set is emptied;
- with ``reset_at`` (a cron), events received before the latest reset tick
  no longer count: they are dropped when the next event is matched (time is
  the events' ``received_at``, so a scheduler that was down matches them as
  it would have);
- an event whose id is in the set already is ignored (never counted twice).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from grange.decorators.triggers import Triggers
from grange.events.scheduler.cron import last_tick

Pending = dict[str, dict[str, Any]]

_MAX_KEY = 200


def match(
    triggers: Triggers, pending: Mapping[str, Mapping[str, Any]], event: Mapping[str, Any]
) -> tuple[Pending, list[dict[str, Any]] | None]:
    """The pending set after ``event``, and the events of the run it starts (if any)."""
    names = [dep.name for dep in triggers.dependencies]
    current: Pending = {k: dict(v) for k, v in pending.items() if k in names}
    if event["name"] not in names:
        return current, None
    received = float(event.get("received_at") or event.get("timestamp") or 0.0)
    if triggers.reset_at is not None:
        reset = last_tick(triggers.reset_at.cron, triggers.reset_at.timezone, received)
        if reset is not None:
            current = {
                k: v for k, v in current.items() if float(v.get("received_at") or 0.0) >= reset
            }
    if any(v.get("id") == event["id"] for v in current.values()):
        return current, None
    current[event["name"]] = dict(event)
    if all(name in current for name in names):
        return {}, [current[name] for name in names]
    return current, None


def launch_key(events: Sequence[Mapping[str, Any]]) -> str:
    """``events:<id>[+<id>...]`` (hashed when long): one run per set of events."""
    ids = "+".join(str(e["id"]) for e in events)
    if len(ids) > _MAX_KEY:
        return "events:sha1:" + hashlib.sha1(ids.encode()).hexdigest()
    return f"events:{ids}"


def provided_parameters(
    triggers: Triggers, parameter_names: Iterable[str], events: Sequence[Mapping[str, Any]]
) -> set[str]:
    """The parameters the events' payloads give a value (the run then takes them from
    the events, not from the deployment's defaults): the mapped ones whose payload
    field is there; with one dependency and no mapping, every parameter whose
    name is a payload field."""
    names = list(parameter_names)
    given: set[str] = set()
    by_name = {e["name"]: e for e in events}
    mapped = any(dep.parameters for dep in triggers.dependencies)
    for dep in triggers.dependencies:
        payload = (by_name.get(dep.name) or {}).get("payload") or {}
        for param, fieldname in dep.parameters.items():
            if fieldname in payload:
                given.add(param)
    if not mapped and len(triggers.dependencies) == 1:
        payload = (by_name.get(triggers.dependencies[0].name) or {}).get("payload") or {}
        given.update(n for n in names if n in payload)
    return given
