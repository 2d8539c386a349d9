"""``@trigger`` and ``@trigger_on_finish``: what starts a deployed flow besides its schedule.

As Metaflow's:

- ``@trigger(event='data_ready')`` or ``@trigger(events=['a', 'b'])`` (all of them
  must arrive: AND). An event may be ``{'name': 'a', 'parameters': {'param':
  'payload_field'}}``; ``parameters`` may also be a list of names and
  ``(param, field)`` pairs. A single event without a mapping sets every
  parameter from the payload field of its name, when the payload has it.
- ``@trigger_on_finish(flow='Upstream')`` or ``flows=[...]``: a successful run of
  each upstream flow. A plain name means the flow in the same project and
  branch as this one (``metaflow.<project>.<branch>.<Flow>.end``); write
  ``'project.branch.Flow'`` (the branch may contain dots: ``'fraud.user.ann.Train'``)
  or ``{'name': 'Train', 'project': 'fraud', 'project_branch': 'prod'}`` for
  another project or branch.
- ``options={'reset_at': {'cron': '0 0 * * *', 'timezone': 'Europe/Paris'}}``:
  events of an AND received before the last tick no longer count.

A flow takes one of the two decorators, once (as Metaflow, which refuses a
second one); the model they resolve to is :mod:`grange.decorators.triggers`.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from grange.decorators.flow import FlowDecorator, FlowShape, make_flow_decorator
from grange.exceptions import DecoratorError

if TYPE_CHECKING:
    # Imported where used: ``import grange`` loads these decorators, not their model.
    from grange.decorators.triggers import ResetAt, UpstreamFlow

#: A flow's name is its class's: a Python identifier, in ASCII (as Metaflow's event names).
FLOW_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: A user branch is ``user.<name>``, whatever characters the user's name has but spaces.
USER_BRANCH = re.compile(r"^user\.\S+$")
OPTIONS = ("reset_at",)


class TriggerDecorator(FlowDecorator):
    """Start the deployed flow when events arrive: ``@trigger(event='data_ready')``,
    ``@trigger(events=['a', 'b'])`` (all of them), each optionally
    ``{'name': ..., 'parameters': {param: payload_field}}``. In a triggered run,
    ``current.trigger.event`` is the event (``.name``, ``.payload``, ...).
    """

    name = "trigger"
    defaults = {"event": None, "events": [], "options": {}}

    def __init__(
        self, attributes: dict[str, Any] | None = None, *, statically_defined: bool = True
    ) -> None:
        upstream = sorted({"flow", "flows"} & set(attributes or {}))
        if upstream:  # a common slip: the upstream flows are @trigger_on_finish's
            raise DecoratorError(
                f"@trigger takes events, not {upstream[0]}=",
                fix=f"to start when a flow's run succeeds, write "
                f"@trigger_on_finish({upstream[0]}=...); @trigger accepts: event, events, options",
            )
        super().__init__(attributes, statically_defined=statically_defined)

    def validate(self) -> None:
        event, events = self.attributes["event"], self.attributes["events"]
        if event is not None and events:
            raise DecoratorError(
                "@trigger gives both event= and events=",
                fix="write @trigger(events=[...]) with every event in the list",
            )
        if event is not None:
            items = [event]
        elif isinstance(events, (list, tuple)):
            items = list(events)
        else:
            raise DecoratorError(
                f"@trigger(events={events!r}) must be a list",
                fix="write @trigger(events=['a', 'b']) or @trigger(event='a')",
            )
        if not items:
            raise DecoratorError(
                "@trigger names no event",
                fix="write @trigger(event='data_ready') or @trigger(events=['a', 'b'])",
            )
        parsed = [_event(item) for item in items]
        names = [n for n, _ in parsed]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise DecoratorError(
                f"@trigger lists the event {dup[0]!r} twice",
                fix="list each event once; merge their parameter mappings",
            )
        self.events: tuple[tuple[str, dict[str, str]], ...] = tuple(parsed)
        self.reset_at = _reset_at(self.attributes["options"], "@trigger")

    def flow_check(self, *, flow: FlowShape) -> str | None:
        problem = _reset_problem(self.reset_at)
        if problem:
            return problem
        params = list(flow.parameters)
        by_name = {_normalized(p.name): p for p in params}
        for event_name, mapping in self.events:
            for param in mapping:
                if _normalized(param) not in by_name:
                    import difflib

                    close = difflib.get_close_matches(param, [p.name for p in params], n=1)
                    hint = (
                        f"did you mean '{close[0]}'?"
                        if close
                        else "its parameters are: " + (", ".join(p.name for p in params) or "none")
                    )
                    return (
                        f"@trigger maps event {event_name!r} to parameter '{param}', which "
                        f"{flow.name} does not have; {hint}"
                    )
        # A required parameter no event maps is refused when deploying, not here:
        # ``run --day x`` is a fine run (triggers.require_parameter_values).
        return None


class TriggerOnFinishDecorator(FlowDecorator):
    """Start the deployed flow when upstream flows' runs succeed:
    ``@trigger_on_finish(flow='Train')`` (in this flow's project and branch),
    ``flows=['A', 'B']`` (all of them), ``'project.branch.Flow'`` or
    ``{'name': 'Train', 'project': 'p', 'project_branch': 'prod'}``. In a
    triggered run, ``current.trigger.run`` is the upstream run.
    """

    name = "trigger_on_finish"
    defaults = {"flow": None, "flows": [], "options": {}}

    def validate(self) -> None:
        flow, flows = self.attributes["flow"], self.attributes["flows"]
        if flow is not None and flows:
            raise DecoratorError(
                "@trigger_on_finish gives both flow= and flows=",
                fix="write @trigger_on_finish(flows=[...]) with every flow in the list",
            )
        if flow is not None:
            items = [flow]
        elif isinstance(flows, (list, tuple)):
            items = list(flows)
        else:
            raise DecoratorError(
                f"@trigger_on_finish(flows={flows!r}) must be a list",
                fix="write @trigger_on_finish(flows=['A', 'B']) or (flow='A')",
            )
        if not items:
            raise DecoratorError(
                "@trigger_on_finish names no flow",
                fix="write @trigger_on_finish(flow='UpstreamFlow')",
            )
        upstream = [_upstream(item) for item in items]
        if len(set(upstream)) != len(upstream):
            raise DecoratorError(
                "@trigger_on_finish lists the same upstream flow twice",
                fix="list each upstream flow once",
            )
        #: As written: project and branch are None where the deploying flow's apply.
        self.upstream_flows: tuple[UpstreamFlow, ...] = tuple(upstream)
        self.reset_at = _reset_at(self.attributes["options"], "@trigger_on_finish")

    def flow_check(self, *, flow: FlowShape) -> str | None:
        problem = _reset_problem(self.reset_at)
        if problem:
            return problem
        for up in self.upstream_flows:
            if up.flow == flow.name and up.project is None and up.branch is None:
                return (
                    f"@trigger_on_finish(flow='{up.flow}') is on {up.flow} itself: each run "
                    "would start the next, without end"
                )
        return None


trigger = make_flow_decorator(TriggerDecorator)
trigger_on_finish = make_flow_decorator(TriggerOnFinishDecorator)


def _event(item: Any) -> tuple[str, dict[str, str]]:
    if isinstance(item, str):
        return _event_name(item), {}
    if isinstance(item, Mapping):
        unknown = sorted(set(item) - {"name", "parameters"})
        if unknown:
            raise DecoratorError(
                f"@trigger: event {dict(item)!r} has unknown key(s) {', '.join(map(str, unknown))}",
                fix="an event is {'name': 'data_ready', 'parameters': {'param': 'field'}}",
            )
        if "name" not in item:
            raise DecoratorError(
                f"@trigger: event {dict(item)!r} has no 'name'",
                fix="write {'name': 'data_ready', 'parameters': {...}}",
            )
        name = _event_name(item["name"])
        return name, _mapping(name, item.get("parameters") or {})
    if callable(item):
        raise DecoratorError(
            "@trigger: an event given as a function (evaluated at deploy time) is not supported",
            fix="compute the event's name in the flow file and give it as a string",
        )
    raise DecoratorError(
        f"@trigger: event {item!r} is neither a name nor a dict",
        fix="write @trigger(event='data_ready') or "
        "@trigger(event={'name': 'data_ready', 'parameters': {'param': 'field'}})",
    )


def _event_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise DecoratorError(
            f"@trigger: event name {name!r} must be a non-empty string without surrounding spaces",
            fix="e.g. @trigger(event='data_ready')",
        )
    return name


def _mapping(event: str, parameters: Any) -> dict[str, str]:
    """``{param: field}`` from a dict, or a list of names and ``(param, field)`` pairs."""
    fix = (
        "write 'parameters': {'param': 'payload_field'} or "
        "['same_name', ('param', 'payload_field')]"
    )
    pairs: list[tuple[Any, Any]] = []
    if isinstance(parameters, Mapping):
        pairs = list(parameters.items())
    elif isinstance(parameters, (list, tuple)):
        for entry in parameters:
            if isinstance(entry, str):
                pairs.append((entry, entry))
            elif isinstance(entry, (list, tuple)) and len(entry) == 2:
                pairs.append((entry[0], entry[1]))
            else:
                raise DecoratorError(
                    f"@trigger: event {event!r}: parameter mapping {entry!r} is neither a name "
                    "nor a (param, field) pair",
                    fix=fix,
                )
    else:
        raise DecoratorError(
            f"@trigger: event {event!r}: parameters={parameters!r} is neither a dict nor a list",
            fix=fix,
        )
    out: dict[str, str] = {}
    for param, field_name in pairs:
        if not isinstance(param, str) or not param or not isinstance(field_name, str):
            raise DecoratorError(
                f"@trigger: event {event!r}: mapping {param!r} -> {field_name!r} must map a "
                "parameter name to a payload field name (both strings)",
                fix=fix,
            )
        if param in out:
            raise DecoratorError(
                f"@trigger: event {event!r} maps parameter '{param}' twice",
                fix="map each parameter once",
            )
        out[param] = field_name
    return out


def _upstream(item: Any) -> UpstreamFlow:
    from grange.decorators.triggers import UpstreamFlow

    fix = (
        "write flow='Train', flow='my_project.prod.Train' or "
        "flow={'name': 'Train', 'project': 'my_project', 'project_branch': 'prod'}"
    )
    if isinstance(item, str):
        if "." not in item:
            return UpstreamFlow(_flow_name(item, fix))
        if item.count(".") < 2:
            raise DecoratorError(
                f"@trigger_on_finish: flow {item!r} is neither a flow name nor "
                "'project.branch.Flow'",
                fix=fix,
            )
        project, tail = item.split(".", 1)
        branch, flow = tail.rsplit(".", 1)
        if not project or not branch:
            raise DecoratorError(
                f"@trigger_on_finish: flow {item!r} has an empty project or branch", fix=fix
            )
        where = f"flow {item!r}"
        return UpstreamFlow(
            _flow_name(flow, fix), _project(project, where, fix), _branch(branch, where, fix)
        )
    if isinstance(item, Mapping):
        unknown = sorted(set(item) - {"name", "project", "project_branch"})
        if unknown:
            raise DecoratorError(
                f"@trigger_on_finish: flow {dict(item)!r} has unknown key(s) "
                f"{', '.join(map(str, unknown))}",
                fix=fix,
            )
        if "name" not in item:
            raise DecoratorError(f"@trigger_on_finish: flow {dict(item)!r} has no 'name'", fix=fix)
        values = {}
        for key in ("project", "project_branch"):
            value = item.get(key)
            if value is not None and (not isinstance(value, str) or not value):
                raise DecoratorError(
                    f"@trigger_on_finish: flow {dict(item)!r}: {key} must be a non-empty string",
                    fix=fix,
                )
            values[key] = value
        where = f"flow {dict(item)!r}"
        return UpstreamFlow(
            _flow_name(item["name"], fix),
            None if values["project"] is None else _project(values["project"], where, fix),
            None
            if values["project_branch"] is None
            else _branch(values["project_branch"], where, fix),
        )
    if callable(item):
        raise DecoratorError(
            "@trigger_on_finish: a flow given as a function (evaluated at deploy time) is not "
            "supported",
            fix=fix,
        )
    raise DecoratorError(f"@trigger_on_finish: flow {item!r} is neither a name nor a dict", fix=fix)


def _flow_name(name: Any, fix: str) -> str:
    if not isinstance(name, str) or not FLOW_NAME.match(name) or keyword.iskeyword(name):
        raise DecoratorError(
            f"@trigger_on_finish: {name!r} is not a flow name (a flow is named by its class: "
            "letters, digits and _, not starting with a digit)",
            fix=fix,
        )
    return name


def _project(name: str, where: str, fix: str) -> str:
    """A project name by ``@project``'s rules (lowercase letters, digits and _)."""
    from grange.decorators.project import name_problem

    problem = name_problem(name)
    if problem:
        raise DecoratorError(
            f"@trigger_on_finish: {where}: the project name {name!r} {problem} (@project's "
            "rules), so no flow can emit the event it waits for",
            fix=fix,
        )
    return name


def _branch(branch: str, where: str, fix: str) -> str:
    """A branch as ``@project`` names them: ``prod``, ``prod.NAME``, ``test.NAME``
    (NAME by @project's rules, as ``--branch NAME``) or ``user.<user name>``."""
    from grange.decorators.project import branch_problem, suggest_branch

    kind, dot, name = branch.partition(".")
    if branch == "prod" or USER_BRANCH.match(branch):
        return branch
    if kind in ("prod", "test") and dot:
        problem = branch_problem(name)
        if problem is None:
            return branch
        reason = f"its name {name!r} {problem}"
        likely = f"{kind}.{suggest_branch(name)}"
    else:
        reason = "a branch is prod, prod.NAME, test.NAME or user.NAME"
        likely = f"test.{suggest_branch(branch)}"
    raise DecoratorError(
        f"@trigger_on_finish: {where}: {branch!r} is not a @project branch ({reason}), so no "
        "flow can emit the event it waits for",
        fix=f"did you mean '{likely}'? (--branch NAME deploys to test.NAME, --production to "
        "prod); " + fix,
    )


def _reset_at(options: Any, where: str) -> ResetAt | None:
    from grange.decorators.cron import normalize_cron
    from grange.decorators.triggers import ResetAt

    if not isinstance(options, Mapping):
        raise DecoratorError(
            f"{where}(options={options!r}) must be a dict",
            fix=f"write {where}(..., options={{'reset_at': {{'cron': '0 0 * * *'}}}})",
        )
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise DecoratorError(
            f"{where}: unknown option(s) {', '.join(map(str, unknown))}",
            fix=f"{where} accepts options: {', '.join(OPTIONS)}",
        )
    reset = options.get("reset_at")
    if reset is None:
        return None
    fix = "write options={'reset_at': {'cron': '0 0 * * *', 'timezone': 'Europe/Paris'}}"
    if not isinstance(reset, Mapping) or "cron" not in reset:
        raise DecoratorError(f"{where}: reset_at={reset!r} needs a 'cron'", fix=fix)
    unknown = sorted(set(reset) - {"cron", "timezone"})
    if unknown:
        raise DecoratorError(
            f"{where}: reset_at has unknown key(s) {', '.join(map(str, unknown))}", fix=fix
        )
    timezone = reset.get("timezone")
    if timezone is not None and (not isinstance(timezone, str) or not timezone):
        raise DecoratorError(
            f"{where}: reset_at timezone={timezone!r} is not an IANA time zone name", fix=fix
        )
    return ResetAt(normalize_cron(reset["cron"], f"{where}: reset_at"), timezone)


def _reset_problem(reset_at: ResetAt | None) -> str | None:
    if reset_at is None:
        return None
    from grange.decorators.cron import cron_problem

    problem = cron_problem(reset_at.cron, reset_at.timezone)
    return f"options={{'reset_at': ...}}: {problem}" if problem else None


def _normalized(name: str) -> str:
    return name.replace("-", "_").lower()
