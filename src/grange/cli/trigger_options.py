"""The events a run is given on the command line (testing triggered flows locally).

Top-level options of a flow's command line, read by ``run``:

- ``--trigger FLOW/RUN`` (repeatable; Metaflow's): a successful run's end
  event, ``metaflow.<project_flow_name>.end``, as that run emitted it;
- ``--trigger-event NAME`` with ``--trigger-payload k=v`` (repeatable; a value
  is read as JSON, else as text) or ``--trigger-payload @file.json``: an event
  as ``Event(NAME).publish(payload)`` would send it;
- hidden ``--trigger-json TEXT|@FILE``: a JSON list of
  :meth:`~grange.decorators.triggers.TriggerEvent.to_dict` (what the local
  scheduler passes to the runs it starts).

They are taken after ``run`` too (``run --trigger FLOW/RUN``), unless a flow
parameter has that name. The run records them in its claim (``current.trigger``, ``Run.trigger``), and
``@trigger``'s mappings set the parameters not given on the command line.
They are accepted on any flow, as the scheduler would start it: a flow that
waits for no such event is told so (a notice), not refused.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grange.exceptions import ClientError, CommandError, GrangeError

if TYPE_CHECKING:
    from grange.cli.context import FlowContext, Settings
    from grange.decorators.project import ProjectInfo
    from grange.decorators.triggers import TriggerEvent, Triggers

OPTIONS = ("--trigger", "--trigger-event", "--trigger-payload", "--trigger-json")
#: Where ``run`` receives each option given after it, by the Settings field it adds to.
RUN_DESTS = {
    "trigger_runs": "run_trigger_runs",
    "trigger_event": "run_trigger_event",
    "trigger_payload": "run_trigger_payload",
    "trigger_json": "run_trigger_json",
}


def run_options(flow_cls: type) -> list[Any]:
    """The trigger options of ``run`` (after the command), but those whose name (or
    keyword) a flow parameter takes: then only the top-level option gives it. Not
    reserved names, as ``--branch`` after ``run`` is not: a Metaflow flow may have a
    parameter called ``trigger``."""
    import click

    from grange.parameters import flow_parameters, normalized_name

    taken = {normalized_name(p.name) for p in flow_parameters(flow_cls)}
    options = [
        click.Option(
            ["--trigger", "run_trigger_runs"],
            multiple=True,
            metavar="FLOW/RUN",
            help="As the top-level --trigger: the run starts as if that run's end triggered it.",
        ),
        click.Option(
            ["--trigger-event", "run_trigger_event"],
            metavar="NAME",
            help="As the top-level --trigger-event.",
        ),
        click.Option(
            ["--trigger-payload", "run_trigger_payload"],
            multiple=True,
            metavar="KEY=VALUE|@FILE",
            help="As the top-level --trigger-payload.",
        ),
        click.Option(["--trigger-json", "run_trigger_json"], hidden=True),
    ]
    return [
        o
        for o in options
        if not {normalized_name(o.opts[0][2:]), str(o.name)} & taken  # --name or its dest
    ]


def with_run_options(flow: FlowContext, options: Mapping[str, Any]) -> FlowContext:
    """``flow`` whose settings hold the trigger options given after ``run`` too."""
    import dataclasses

    settings = flow.settings
    changes: dict[str, Any] = {}
    for field_name, dest in RUN_DESTS.items():
        after = options.get(dest)
        if not after:
            continue
        before = getattr(settings, field_name)
        if isinstance(after, tuple):
            changes[field_name] = (*before, *after)
        elif before and before != after:
            option = "--" + field_name.replace("_", "-")
            raise CommandError(
                f"{option} is given before the command ({before}) and after it ({after})",
                fix=f"give {option} once",
            )
        else:
            changes[field_name] = after
    if not changes:
        return flow
    return dataclasses.replace(flow, settings=dataclasses.replace(settings, **changes))


def given(settings: Settings) -> bool:
    """True when the command line gives a run any event."""
    return bool(
        settings.trigger_runs
        or settings.trigger_event
        or settings.trigger_payload
        or settings.trigger_json
    )


def trigger_events(flow: FlowContext) -> list[TriggerEvent]:
    """The events the top-level options give the run ([] for none), checked."""
    settings = flow.settings
    if not given(settings):
        return []
    if settings.trigger_payload and not settings.trigger_event:
        raise CommandError(
            "--trigger-payload gives the payload of --trigger-event, which is missing",
            fix="add --trigger-event NAME before the command, e.g. "
            "--trigger-event data_ready --trigger-payload date=2026-01-01",
        )
    if settings.trigger_json and (settings.trigger_runs or settings.trigger_event):
        raise CommandError(
            "--trigger-json gives every event of the run; it cannot be combined with "
            "--trigger or --trigger-event",
            fix="give the events with one of the two forms",
        )
    events: list[TriggerEvent] = []
    if settings.trigger_json:
        events.extend(_json_events(settings.trigger_json))
    if settings.trigger_runs:
        events.extend(_run_event(flow, pathspec) for pathspec in settings.trigger_runs)
    if settings.trigger_event:
        events.append(_named_event(settings.trigger_event, settings.trigger_payload))
    return events


def check_events(
    flow: FlowContext, events: list[TriggerEvent], project: ProjectInfo | None
) -> Triggers | None:
    """The flow's triggers (None: it has none); a notice for each event it does not wait for."""
    from grange.decorators.triggers import triggers_of
    from grange.graph import lint

    lint.check(flow.graph())  # a misused decorator is reported at its line first
    triggers = triggers_of(flow.flow_cls, project)
    if triggers is None:
        flow.say(
            f"{flow.flow_name} has no @trigger or @trigger_on_finish: the run records its "
            "events (current.trigger) and no parameter is set from them."
        )
        return None
    names = [d.name for d in triggers.dependencies]
    for event in events:
        if event.name not in names:
            flow.say(
                f"Event {event.name} is not one that {flow.flow_name} waits for "
                f"({', '.join(names)}): the run records it, and no parameter is set from it."
            )
    return triggers


def _run_event(flow: FlowContext, pathspec: str) -> TriggerEvent:
    """``--trigger FLOW/RUN``: the end event of that run, which must have succeeded."""
    parts = pathspec.split("/")
    if len(parts) != 2 or not all(parts):
        raise CommandError(
            f"--trigger {pathspec}: expected FLOW/RUN, the pathspec of a successful run",
            fix=f"e.g. --trigger UpstreamFlow/3 ('{flow.command_line('--help')}' says more)",
        )
    # The client reads the store this command line chose (its metadata layer is then
    # loaded before the run's fork server: a cost paid by local testing runs only).
    from grange.cli.reading import connect
    from grange.client import Run
    from grange.client.trigger import run_end_event

    connect(flow.settings, every_namespace=True)
    try:
        run = Run(pathspec, _namespace_check=False)
    except ClientError as err:
        raise CommandError(f"--trigger {pathspec}: {err.message}", fix=err.fix) from None
    if not run.successful:
        raise CommandError(
            f"--trigger {pathspec}: the run has status {run.status}; only a successful run's "
            "end triggers a flow",
            fix="give a run that succeeded, e.g. the latest: "
            f"Flow('{parts[0]}').latest_successful_run",
        )
    return run_end_event(run)


def _named_event(name: str, payload_options: tuple[str, ...]) -> TriggerEvent:
    """``--trigger-event NAME`` with its ``--trigger-payload`` fields, as published."""
    from grange.decorators.triggers import TriggerEvent

    if not name.strip() or name != name.strip():
        raise CommandError(
            f"--trigger-event {name!r}: an event name is a non-empty text without "
            "surrounding spaces",
            fix="e.g. --trigger-event data_ready",
        )
    fields = payload_fields(payload_options)
    if "name" in fields and fields["name"] != name:
        raise CommandError(
            f"--trigger-payload name={fields['name']!r} contradicts --trigger-event {name}",
            fix="leave 'name' out of the payload: it is the event's name",
        )
    payload: dict[str, Any] = {"name": name, "id": str(uuid.uuid4()), "timestamp": int(time.time())}
    payload.update(fields)
    at = payload["timestamp"]
    if isinstance(at, bool) or not isinstance(at, (int, float)):
        raise CommandError(
            f"--trigger-payload timestamp={at!r} is not a number of seconds since 1970",
            fix="e.g. timestamp=1767225600, or leave it out (now)",
        )
    return TriggerEvent(name=name, id=str(payload["id"]), timestamp=float(at), payload=payload)


def payload_fields(options: tuple[str, ...]) -> dict[str, Any]:
    """``--trigger-payload`` values merged: ``@file.json`` (an object) and ``k=v`` (v as
    JSON, else as text); a ``k=v`` after a file replaces the file's field."""
    fields: dict[str, Any] = {}
    from_option: set[str] = set()
    for text in options:
        if text.startswith("@"):
            data = _load_json(text, "--trigger-payload")
            if not isinstance(data, Mapping):
                raise CommandError(
                    f"--trigger-payload {text}: the file holds {type(data).__name__}, not a "
                    "JSON object",
                    fix='write the payload as an object: {"date": "2026-01-01"}',
                )
            fields.update(data)
            continue
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CommandError(
                f"--trigger-payload {text!r} is neither KEY=VALUE nor @FILE.json",
                fix="e.g. --trigger-payload date=2026-01-01 or --trigger-payload @payload.json",
            )
        if key in from_option:
            raise CommandError(f"--trigger-payload gives {key} twice", fix=f"give {key}=VALUE once")
        from_option.add(key)
        try:
            fields[key] = json.loads(raw)
        except ValueError:
            fields[key] = raw
    return fields


def _json_events(text: str) -> list[TriggerEvent]:
    """``--trigger-json``: a list of TriggerEvent dicts (or one), as text or ``@FILE``."""
    from grange.decorators.triggers import TriggerEvent

    data = _load_json(text, "--trigger-json")
    items = [data] if isinstance(data, Mapping) else data
    if not isinstance(items, list):
        raise CommandError(
            "--trigger-json: expected a JSON list of events",
            fix='e.g. [{"name": "data_ready", "id": "...", "timestamp": 1767225600, '
            '"type": "event", "payload": {}}]',
        )
    events = []
    for item in items:
        try:
            if not isinstance(item, Mapping) or not isinstance(item.get("payload", {}), Mapping):
                raise TypeError(item)
            events.append(TriggerEvent.from_dict(item))
        except (KeyError, TypeError, ValueError):
            raise CommandError(
                f"--trigger-json: {item!r} is not an event (name, id, timestamp, type, payload)",
                fix='each event is {"name": ..., "id": ..., "timestamp": ..., "type": '
                '"event"|"run", "payload": {...}}',
            ) from None
    return events


def _load_json(text: str, option: str) -> Any:
    """``text`` parsed as JSON, or the JSON file it names with ``@FILE``."""
    source = "the text"
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        source = f"file {path}"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise CommandError(
                f"{option} @{path}: cannot read the file ({err.strerror or err})",
                fix="give the path of a JSON file, e.g. @payload.json",
            ) from None
    try:
        return json.loads(text)
    except ValueError as err:
        raise CommandError(
            f"{option}: {source} is not JSON ({err})",
            fix="check the JSON, e.g. with python -m json.tool",
        ) from None


def explicit_or_event(
    flow: FlowContext, options: dict[str, Any], values: Mapping[str, str]
) -> tuple[dict[str, Any], set[str]]:
    """``options`` with the event-given parameter ``values`` for the parameters the
    command line does not give (click's parameter source), and those parameters' names."""
    import click
    from click.core import ParameterSource

    from grange.cli.params import option_dest
    from grange.parameters import flow_parameters

    ctx = click.get_current_context(silent=True)
    out = dict(options)
    applied: set[str] = set()
    for param in flow_parameters(flow.flow_cls):
        if param.name not in values:
            continue
        dest = option_dest(param)
        source = ctx.get_parameter_source(dest) if ctx is not None else None
        if source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            continue
        if out.get(dest) is not None:
            continue
        out[dest] = values[param.name]
        applied.add(param.name)
    return out, applied


def restated(err: GrangeError, parameter: str) -> GrangeError:
    """A bad parameter value that an event's payload gave, said so."""
    from grange.exceptions import ParameterError

    return ParameterError(
        f"{err.message} (the value comes from the payload of the run's trigger event)",
        parameter=parameter,
        fix="send an event whose payload field holds a valid value, or give "
        f"--{parameter} VALUE on the command line, which wins over the event",
    )
