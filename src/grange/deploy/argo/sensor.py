"""``@trigger`` / ``@trigger_on_finish`` as an Argo Events Sensor: :func:`sensor`.

The convention (docs/argo.md, "Events"): one webhook EventSource
(``[argo] events_source``, default ``grange-events``) with one webhook event
(``[argo] events_event``, default ``grange-event``) carries every event; the
event's own name is a field of the body, ``{"name": N, "payload": {"name": N,
"id": ..., "timestamp": ..., ...}}``, as Metaflow's. So each dependency of the
Sensor listens to that one webhook and filters on ``body.payload.name``:

- ``filters.exprs``: ``name == '<event>'``; for each required parameter mapped
  from the payload, that its field exists; for ``@trigger_on_finish``, the
  upstream run's ``project_name``/``branch_name`` and
  ``auto-generated-by-metaflow``;
- one ``k8s`` trigger (``operation: create``) of an inline Workflow with a
  ``workflowTemplateRef`` to the deployment (as ``argo submit --from``), so a
  triggered run is the same Workflow as one ``argo-workflows trigger`` submits;
- each mapped parameter is set by a ``dataTemplate`` rendering the payload
  field as JSON (the field missing: ``fail``, so Argo Events falls back to the
  ``value``, the parameter's default), at
  ``dest: spec.arguments.parameters.#(name=P).value`` (gjson's query: by name,
  not by position);
- each event's whole payload goes into a hidden workflow parameter
  (:func:`grange.deploy.argo.naming.trigger_parameter`), which the start step
  records as the run's trigger (``current.trigger``);
- several events are an AND (no ``conditions``), reset by
  ``conditionsReset.byTime`` for ``options={"reset_at": ...}``;
- ``atLeastOnce`` with a ``retryStrategy``: the Workflow is created before the
  events are acknowledged, a failed creation tried again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hera.events import models as e
from hera.events.models.io.k8s.api.core.v1 import ResourceRequirements
from hera.events.models.io.k8s.apimachinery.pkg.api.resource import Quantity
from hera.events.models.io.k8s.apimachinery.pkg.apis.meta.v1 import ObjectMeta

from grange.decorators.triggers import EventDependency, Triggers
from grange.deploy.argo import metadata
from grange.deploy.argo.manifests import API_VERSION, to_dict
from grange.deploy.argo.naming import event_dependency, short_hash, trigger_parameter
from grange.deploy.argo.settings import ArgoSettings
from grange.exceptions import CompileError
from grange.graph.model import FlowGraph, ParameterInfo

# Metaflow's rules: event names of these characters only; payload fields a gjson path
# and a Go template string can name as they are.
_EVENT_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # fullmatch: no trailing newline
_FIELD = re.compile(r"[A-Za-z0-9_-]+")
# govaluate (Argo Events' filter expressions) reads a quoted literal that parses as one of
# these dates as a number (its unix time): ``name == '2024-01-01'`` then never matches the
# string field. The ISO shapes of its list (parsing.go tryParseTime); the others (ANSIC,
# Kitchen, ...) need ':' or ' ', which no event name holds.
_GOVALUATE_DATE = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
# Argo Events' own fields of a trigger_on_finish filter, as Metaflow's end events carry them.
AUTO_FIELD = "auto-generated-by-metaflow"
# The sensor pod does little: a small guaranteed-QoS container, as Metaflow's.
_SENSOR_RESOURCES = {"cpu": "100m", "memory": "250Mi"}
# An event's payload reaches the start step on its command line (one argument, which
# Linux limits to 128 KiB, and Argo's resolved template, one environment string on Argo
# < 3.5.2): at most 32 KiB of JSON, as a parameter value (parameters.MAX_VALUE_BYTES).
MAX_PAYLOAD_BYTES = 32 * 1024
#: The hidden payload parameter's value when the payload was larger: the start step
#: refuses the run saying so (grange.runtime.argo_task.split_trigger_parameters).
OVERSIZE_FIELD = "grange-payload-too-large"
# Fails (so that Argo Events takes the dataKey's raw text, numbers exact) unless the
# payload is too large; then a small marker with its size.
OVERSIZE_TEMPLATE = (
    "{{ $p := toRawJson $.Input.body.payload }}"
    f"{{{{ if gt (len $p) {MAX_PAYLOAD_BYTES} }}}}"
    f'{{"{OVERSIZE_FIELD}":{{{{ len $p }}}}}}'
    '{{ else }}{{ fail "within the limit: the payload as it came" }}{{ end }}'
)
# Creating the Workflow: 3 more tries after 10 s, 20 s and 40 s.
TRIGGER_RETRY = {"steps": 4, "duration": "10s", "factor": 2}


@dataclass(frozen=True)
class Dependency:
    """One event of the Sensor, resolved: its names and its parameter mapping."""

    event: EventDependency
    kind: str  # "event" | "run"
    name: str  # the Sensor dependency's name
    parameter: str  # the hidden workflow parameter holding the payload
    mapping: Mapping[str, str]  # flow parameter -> payload field


def sensor_name(template: str) -> str:
    """The Sensor's name: the template's; with ``.`` as ``-`` (as Metaflow's) plus 5
    characters of a hash of the template's name when it had dots, so that ``a.b`` and
    ``a-b`` (``proj.user.john.doe.flow`` and ``proj.user.john-doe.flow``) never share
    a Sensor."""
    if "." not in template:
        return template
    return f"{template.replace('.', '-')}-{short_hash(template, 5)}"


def reads_as_date(text: str) -> bool:
    """Whether govaluate reads the quoted literal ``text`` as a date (a number)."""
    import datetime

    m = _GOVALUATE_DATE.fullmatch(text)
    if not m:
        return False
    try:
        datetime.date.fromisoformat(m.group("date"))
    except ValueError:  # Go's time.Parse refuses 2024-02-30 too: a plain string then
        return False
    return True


def dependencies(triggers: Triggers, graph: FlowGraph) -> list[Dependency]:
    """The Sensor's dependencies, checked: event names, mappings, unique names.

    One ``@trigger`` event with no mapping maps every parameter to the payload
    field of its name (as Metaflow)."""
    infos = {p.name: p for p in graph.parameters}
    out: list[Dependency] = []
    seen: dict[str, str] = {}
    implicit = triggers.kind == "event" and len(triggers.dependencies) == 1
    for dep in triggers.dependencies:
        if not _EVENT_NAME.fullmatch(dep.name):
            raise CompileError(
                f"event name {dep.name!r} can hold only letters, digits, '_', '-' and '.'",
                file=graph.file,
                line=graph.line,
                fix="rename the event in @trigger",
            )
        if reads_as_date(dep.name):
            raise CompileError(
                f"event name {dep.name!r} reads as a date in Argo Events' filter expressions "
                "(govaluate turns a quoted date into a number), so the Sensor would never "
                "match it",
                file=graph.file,
                line=graph.line,
                fix=f"rename the event, e.g. 'data-{dep.name}'",
            )
        mapping = dict(dep.parameters)
        if implicit and not mapping:
            mapping = {p.name: p.name for p in graph.parameters if not p.is_file}
        for param, payload_field in mapping.items():
            _check_mapping(param, payload_field, infos, dep, graph)
        name = event_dependency(dep.name)
        if name in seen:
            raise CompileError(
                f"the events {seen[name]!r} and {dep.name!r} of @trigger are the same event",
                file=graph.file,
                line=graph.line,
                fix="list each event once",
            )
        seen[name] = dep.name
        kind = "run" if dep.upstream is not None or triggers.kind == "run" else "event"
        out.append(Dependency(dep, kind, name, trigger_parameter(kind, name), mapping))
    mapped: dict[str, str] = {}
    for d in out:
        for param in d.mapping:
            if param in mapped:
                raise CompileError(
                    f"parameter '{param}' is mapped from two events ({mapped[param]!r} and "
                    f"{d.event.name!r})",
                    file=graph.file,
                    line=graph.line,
                    parameter=param,
                    fix="map each parameter from one event",
                )
            mapped[param] = d.event.name
    return out


def _check_mapping(
    param: str,
    payload_field: str,
    infos: Mapping[str, ParameterInfo],
    dep: EventDependency,
    graph: FlowGraph,
) -> None:
    info = infos.get(param)
    if info is None:
        raise CompileError(
            f"@trigger maps event {dep.name!r} to parameter '{param}', which the flow "
            "does not have",
            file=graph.file,
            line=graph.line,
            parameter=param,
            fix=f"map to one of its parameters: {', '.join(sorted(infos)) or 'none'}",
        )
    if info.is_file:
        raise CompileError(
            f"@trigger maps event {dep.name!r} to IncludeFile parameter '{param}': an event "
            "carries values, not files",
            file=info.file,
            line=info.line,
            parameter=param,
            fix="map the field to a str parameter (e.g. the file's location)",
        )
    if not _FIELD.fullmatch(payload_field):
        raise CompileError(
            f"payload field {payload_field!r} (parameter '{param}' of event {dep.name!r}) "
            "can hold only letters, digits, '_' and '-' on Argo",
            file=graph.file,
            line=graph.line,
            parameter=param,
            fix="rename the field in the event's payload and the mapping",
        )


def hidden_parameters(deps: list[Dependency]) -> dict[str, str]:
    """The workflow arguments carrying the events' payloads: ``null`` unless a
    Sensor sets them (a run started otherwise has no trigger)."""
    return {d.parameter: "null" for d in deps}


def sensor(
    name: str,
    triggers: Triggers,
    settings: ArgoSettings,
    graph: FlowGraph,
    values: Mapping[str, str | None],
) -> dict[str, Any]:
    """The Sensor starting template ``name`` when ``triggers``' events arrive;
    ``values`` the parameters' compiled defaults (JSON text, None: required)."""
    deps = dependencies(triggers, graph)
    required = {p.name for p in graph.parameters if values.get(p.name) is None}
    workflow_parameters: list[dict[str, str]] = []
    trigger_parameters: list[e.TriggerParameter] = []
    listed: set[str] = set()
    for dep in deps:
        for param, payload_field in dep.mapping.items():
            default = values.get(param)
            if param not in listed:
                listed.add(param)
                # required ones are always set: their dependency requires the field
                workflow_parameters.append({"name": param, "value": default or "null"})
            trigger_parameters.append(
                e.TriggerParameter(
                    src=e.TriggerParameterSource(
                        dependency_name=dep.name,
                        data_template=data_template(payload_field),
                        value=default,
                    ),
                    dest=destination(param),
                )
            )
    for dep in deps:
        workflow_parameters.append({"name": dep.parameter, "value": "null"})
        trigger_parameters.append(
            e.TriggerParameter(
                src=e.TriggerParameterSource(
                    dependency_name=dep.name,
                    # a payload within the limit fails the template: the key's raw text
                    data_template=OVERSIZE_TEMPLATE,
                    data_key="body.payload",
                    value="null",
                ),
                dest=destination(dep.parameter),
            )
        )
    reset = triggers.reset_at
    template = e.TriggerTemplate(
        name=name,
        k8s=e.StandardK8STrigger(
            operation="create",
            source=e.ArtifactLocation(resource=e.K8SResource()),
            parameters=trigger_parameters,
        ),
        conditions_reset=(
            [
                e.ConditionsResetCriteria(
                    by_time=e.ConditionsResetByTime(
                        cron=reset.cron, timezone=reset.timezone or "UTC"
                    )
                )
            ]
            if reset is not None
            else None
        ),
    )
    doc = e.Sensor(
        metadata=ObjectMeta(
            name=sensor_name(name),
            namespace=settings.namespace,
            labels=metadata.object_labels(name, settings, "sensor"),
            annotations=metadata.object_annotations(graph, settings),
        ),
        spec=e.SensorSpec(
            template=e.Template(
                service_account_name=settings.sensor_service_account,
                container=e.Container(
                    resources=ResourceRequirements(
                        requests={k: Quantity(v) for k, v in _SENSOR_RESOURCES.items()},
                        limits={k: Quantity(v) for k, v in _SENSOR_RESOURCES.items()},
                    )
                ),
            ),
            replicas=1,
            event_bus_name=settings.event_bus,
            dependencies=[
                e.EventDependency(
                    name=dep.name,
                    event_source_name=settings.event_source,
                    event_name=settings.event_name,
                    filters=e.EventDependencyFilter(exprs=_filters(dep, required)),
                )
                for dep in deps
            ],
            triggers=[e.Trigger(template=template)],
        ),
    )
    out = {"apiVersion": API_VERSION, "kind": "Sensor", **to_dict(doc)}
    trigger = out["spec"]["triggers"][0]
    trigger["template"]["k8s"]["source"]["resource"] = _workflow(
        name, settings, graph, deps, workflow_parameters
    )
    # The Workflow is created before the events are acknowledged, and a failed creation
    # (an API server hiccup) is tried again, rather than the events dropped with a log
    # line in the sensor's pod: at least once (hera's models cannot write these fields).
    trigger["atLeastOnce"] = True
    trigger["retryStrategy"] = dict(TRIGGER_RETRY)
    return out


def _filters(dep: Dependency, required: set[str]) -> list[e.ExprFilter]:
    exprs = [_expr(f"name == {_quote(dep.event.name)}", "name", "name")]
    for param, payload_field in dep.mapping.items():
        if param in required:  # the run could not start without it
            exprs.append(_expr("true == true", "field", payload_field))
    upstream = dep.event.upstream
    if upstream is not None:
        for key, value in (("project_name", upstream.project), ("branch_name", upstream.branch)):
            if value:
                exprs.append(_expr(f"field == {_quote(value)}", "field", key))
        # JSON true (grange) or the text 'True' (Metaflow stringifies its payload values)
        exprs.append(_expr("field == true || field == 'True'", "field", AUTO_FIELD))
    return exprs


def _expr(expr: str, name: str, payload_field: str) -> e.ExprFilter:
    return e.ExprFilter(
        expr=expr, fields=[e.PayloadField(name=name, path=f"body.payload.{payload_field}")]
    )


def _quote(text: str) -> str:
    if "'" in text or "\\" in text:
        raise CompileError(f"{text!r} cannot be quoted in an Argo Events filter")
    if reads_as_date(text):
        raise CompileError(
            f"{text!r} reads as a date in Argo Events' filter expressions (govaluate turns "
            "a quoted date into a number): a filter on it would never match",
            fix="use a project or branch name that is not a date",
        )
    return f"'{text}'"


def data_template(payload_field: str) -> str:
    """A Sprig template rendering the payload's ``payload_field`` as JSON (the
    workflow argument's encoding); without the field it fails, so that Argo Events
    uses the parameter source's ``value`` (the default) instead. A value past
    :data:`MAX_PAYLOAD_BYTES` is ``null`` (its payload is too, marked so: the start
    step refuses the run with a clear message rather than the pod dying on a too
    long command line)."""
    return (
        f'{{{{ if hasKey $.Input.body.payload "{payload_field}" }}}}'
        f'{{{{ $v := get $.Input.body.payload "{payload_field}" | toRawJson }}}}'
        f"{{{{ if gt (len $v) {MAX_PAYLOAD_BYTES} }}}}null{{{{ else }}}}{{{{ $v }}}}{{{{ end }}}}"
        '{{ else }}{{ fail "use the default" }}{{ end }}'
    )


def destination(parameter: str) -> str:
    """Where a value goes in the inline Workflow: the argument of that name."""
    return f"spec.arguments.parameters.#(name={parameter}).value"


def _workflow(
    name: str,
    settings: ArgoSettings,
    graph: FlowGraph,
    deps: list[Dependency],
    parameters: list[dict[str, str]],
) -> dict[str, Any]:
    """The Workflow the Sensor creates: the template by reference, and arguments
    for every value the events set (the others keep the template's defaults)."""
    labels = metadata.object_labels(name, settings, "run")
    triggered_by = [{"name": d.event.name, "type": d.kind} for d in deps]
    return {
        "apiVersion": API_VERSION,
        "kind": "Workflow",
        "metadata": {
            "generateName": f"{name}-",
            "namespace": settings.namespace,
            "labels": labels,
            "annotations": {
                f"{metadata.PREFIX}flow-name": graph.name,
                f"{metadata.PREFIX}trigger-events": json.dumps(triggered_by),
            },
        },
        "spec": {
            "workflowTemplateRef": {"name": name},
            "arguments": {"parameters": parameters},
        },
    }


__all__ = [
    "Dependency",
    "data_template",
    "dependencies",
    "destination",
    "hidden_parameters",
    "reads_as_date",
    "sensor",
    "sensor_name",
]
