"""CronWorkflows and Argo Events Sensors, in the local executor (the subset grange emits).

- :func:`fire_cron` fires a CronWorkflow once: the Workflow its controller would
  submit at a tick (``<name>-<unix time>``, its ``workflowSpec``), run against
  the template it references.
- :class:`SensorRunner` delivers events to a Sensor as Argo Events does: an
  event of a webhook EventSource is ``{"header": {...}, "body": <the POSTed
  JSON>}``; each dependency (``eventSourceName``/``eventName``) takes the
  events its ``filters`` (``exprs``: govaluate over gjson fields; ``data``:
  string/number/bool values) pass; when every dependency has one (AND, no
  ``conditions``), the k8s ``create`` trigger's resource is rendered with its
  ``parameters`` (``dataKey`` or ``dataTemplate`` with a default ``value``, at
  ``dest: spec.arguments.parameters.#(name=P).value``) and the dependencies
  start over; ``conditionsReset.byTime`` forgets the events received before
  its cron's last tick.

Every other field is refused (:class:`~.refuse.Refused`), never ignored.
"""

from __future__ import annotations

import copy
import datetime
import json
import re
import threading
import time
from collections.abc import Mapping
from typing import Any

from .refuse import Refused

CRON_SPEC = {
    "schedules",
    "timezone",
    "concurrencyPolicy",
    "startingDeadlineSeconds",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
    "workflowSpec",
    "suspend",
}
SENSOR_SPEC = {"dependencies", "triggers", "eventBusName", "replicas", "template"}
DEPENDENCY = {"name", "eventSourceName", "eventName", "filters"}
FILTERS = {"exprs", "data"}
EXPR = {"expr", "fields"}
DATA_FILTER = {"path", "type", "value", "comparator"}
TRIGGER = {"template", "atLeastOnce", "retryStrategy"}  # creating here cannot fail: no-ops
RETRY = {"steps", "duration", "factor", "jitter"}
TRIGGER_TEMPLATE = {"name", "k8s", "conditionsReset"}
K8S = {"operation", "source", "parameters"}
PARAMETER = {"src", "dest", "operation"}
SOURCE = {"dependencyName", "dataKey", "dataTemplate", "value"}

_MISSING = object()


def _only(obj: Any, known: set[str], where: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise Refused(f"{where}: expected an object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - known)
    if unknown:
        raise Refused(f"{where}: field(s) {', '.join(unknown)} not implemented by the executor")
    return obj


# -- CronWorkflow ------------------------------------------------------------------------


def cron_workflow_run(cron: Mapping[str, Any], at: float | None = None) -> dict[str, Any]:
    """The Workflow the CronWorkflow's controller submits at a tick at ``at``."""
    from zoneinfo import ZoneInfo

    from croniter import croniter

    if cron.get("kind") != "CronWorkflow":
        raise Refused(f"kind {cron.get('kind')!r} is not CronWorkflow")
    spec = _only(cron["spec"], CRON_SPEC, "CronWorkflow.spec")
    schedules = spec.get("schedules")
    if not schedules:
        raise Refused("CronWorkflow.spec: no schedules")
    for expression in schedules:
        if not croniter.is_valid(expression):
            raise Refused(f"CronWorkflow.spec.schedules: {expression!r} is not a cron expression")
    if spec.get("timezone"):
        ZoneInfo(spec["timezone"])  # an unknown zone raises, as Argo refuses it
    if spec.get("concurrencyPolicy", "Allow") not in ("Allow", "Forbid", "Replace"):
        raise Refused(f"concurrencyPolicy {spec['concurrencyPolicy']!r}")
    wspec = _only(spec["workflowSpec"], {"workflowTemplateRef", "arguments"}, "workflowSpec")
    name = cron["metadata"]["name"]
    return {
        "apiVersion": cron["apiVersion"],
        "kind": "Workflow",
        "metadata": {"name": f"{name}-{int(at if at is not None else time.time())}"},
        "spec": copy.deepcopy(dict(wspec)),
    }


def fire_cron(
    cron: Mapping[str, Any], template: Mapping[str, Any], *, at: float | None = None, **options: Any
) -> Any:
    """Fire ``cron`` once: run the Workflow it submits (see :func:`run_workflow`)."""
    from .engine import run_workflow

    if cron.get("spec", {}).get("suspend"):
        raise Refused("the CronWorkflow is suspended")
    return run_workflow(template, cron_workflow_run(cron, at), **options)


# -- Sensor ------------------------------------------------------------------------------


class SensorRunner:
    """One Sensor's dependencies and trigger: :meth:`deliver` events, get Workflows."""

    def __init__(self, sensor: Mapping[str, Any], clock: Any = time.time) -> None:
        if sensor.get("kind") != "Sensor":
            raise Refused(f"kind {sensor.get('kind')!r} is not Sensor")
        spec = _only(sensor["spec"], SENSOR_SPEC, "Sensor.spec")
        self.dependencies = []
        for i, dep in enumerate(spec["dependencies"]):
            _only(dep, DEPENDENCY, f"dependencies[{i}]")
            filters = _only(dep.get("filters", {}), FILTERS, f"dependencies[{i}].filters")
            for j, expr in enumerate(filters.get("exprs", [])):
                _only(expr, EXPR, f"dependencies[{i}].filters.exprs[{j}]")
                parse_expression(expr["expr"])  # refuses what it cannot evaluate
            for j, data in enumerate(filters.get("data", [])):
                _only(data, DATA_FILTER, f"dependencies[{i}].filters.data[{j}]")
            self.dependencies.append(dep)
        names = [d["name"] for d in self.dependencies]
        if len(set(names)) != len(names):
            raise Refused(f"Sensor dependencies with the same name: {names}")
        if len(spec["triggers"]) != 1:
            raise Refused("a Sensor with other than one trigger")
        trigger = _only(spec["triggers"][0], TRIGGER, "triggers[0]")
        _only(trigger.get("retryStrategy", {}), RETRY, "triggers[0].retryStrategy")
        self.template = _only(trigger["template"], TRIGGER_TEMPLATE, "triggers[0].template")
        self.k8s = _only(self.template["k8s"], K8S, "k8s")
        if self.k8s["operation"] != "create":
            raise Refused(f"k8s operation {self.k8s['operation']!r}")
        _only(self.k8s["source"], {"resource"}, "k8s.source")
        for i, param in enumerate(self.k8s.get("parameters", [])):
            _only(param, PARAMETER, f"k8s.parameters[{i}]")
            _only(param["src"], SOURCE, f"k8s.parameters[{i}].src")
            if param.get("operation", "overwrite") != "overwrite":
                raise Refused(f"parameter operation {param['operation']!r}")
            if param["src"]["dependencyName"] not in names:
                raise Refused(f"parameter of unknown dependency {param['src']['dependencyName']!r}")
            if "dataTemplate" in param["src"]:
                check_template(param["src"]["dataTemplate"])
            _destination(param["dest"])
        self.resets = []
        for reset in self.template.get("conditionsReset", []):
            by_time = _only(_only(reset, {"byTime"}, "conditionsReset")["byTime"],
                            {"cron", "timezone"}, "conditionsReset.byTime")  # fmt: skip
            self.resets.append(by_time)
        self.clock = clock
        self.received: dict[str, tuple[float, dict[str, Any]]] = {}
        self.lock = threading.Lock()

    def deliver(
        self,
        source: str,
        event: str,
        body: Any,
        headers: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Deliver one event of webhook ``source``/``event``; the Workflows it creates."""
        data = {"header": dict(headers or {}), "body": body}
        now = self.clock()
        with self.lock:
            self._reset(now)
            for dep in self.dependencies:
                if (dep["eventSourceName"], dep["eventName"]) != (source, event):
                    continue
                if passes(dep.get("filters", {}), data):
                    self.received[dep["name"]] = (now, data)
            if len(self.received) < len(self.dependencies):
                return []
            events = {name: data for name, (_, data) in self.received.items()}
            self.received.clear()
        return [self.render(events)]

    def _reset(self, now: float) -> None:
        """Forget the events received before the last tick of a reset cron."""
        from zoneinfo import ZoneInfo

        from croniter import croniter

        for by_time in self.resets:
            zone = ZoneInfo(by_time.get("timezone") or "UTC")
            tick = croniter(by_time["cron"], datetime.datetime.fromtimestamp(now, zone))
            last = tick.get_prev(float)
            for name, (at, _) in list(self.received.items()):
                if at < last:
                    del self.received[name]

    def render(self, events: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """The trigger's resource with the events' values at their destinations."""
        resource = copy.deepcopy(self.k8s["source"]["resource"])
        for param in self.k8s.get("parameters", []):
            value = resolve(param["src"], events)
            if value is None:
                continue
            _set(resource, param["dest"], value)
        return resource


def resolve(src: Mapping[str, Any], events: Mapping[str, Mapping[str, Any]]) -> str | None:
    """A parameter's value, as Argo Events' ResolveParamValue: the template's output,
    else the key's value, else the default ``value`` (else an error)."""
    data = events.get(src["dependencyName"])
    default = src.get("value")
    if data is None:
        return default
    if "dataTemplate" in src:
        # the template's $.Input is gjson's Value(): every number a float64
        payload = _float64(get_path(data, "body.payload"))
        oversize = _OVERSIZE.fullmatch(src["dataTemplate"])
        if oversize:  # the marker past the limit, else fails: the dataKey's text
            size = len(raw_json(payload).encode()) if isinstance(payload, Mapping) else 0
            if size > int(oversize.group("n")):
                return json.dumps({oversize.group("k"): size}, separators=(",", ":"))
        else:
            field, limit = template_field(src["dataTemplate"])
            if isinstance(payload, Mapping) and field in payload:
                text = raw_json(payload[field])
                return "null" if len(text.encode()) > limit else text
    if "dataKey" in src:
        value = get_path(data, src["dataKey"])
        if value is not _MISSING:
            return value if isinstance(value, str) else raw_json(value)
    if default is not None:
        return default
    raise ValueError(f"unable to resolve the parameter of {src['dependencyName']!r}")


# The two dataTemplate forms grange emits (grange.deploy.argo.sensor): a payload field as
# JSON (null past a size), and the oversize marker of a whole payload.
_TEMPLATE = re.compile(
    r'\{\{ if hasKey \$\.Input\.body\.payload "(?P<f>[A-Za-z0-9_-]+)" \}\}'
    r'\{\{ \$v := get \$\.Input\.body\.payload "(?P=f)" \| toRawJson \}\}'
    r"\{\{ if gt \(len \$v\) (?P<n>\d+) \}\}null\{\{ else \}\}\{\{ \$v \}\}\{\{ end \}\}"
    r'\{\{ else \}\}\{\{ fail "[^"]*" \}\}\{\{ end \}\}'
)
_OVERSIZE = re.compile(
    r"\{\{ \$p := toRawJson \$\.Input\.body\.payload \}\}"
    r"\{\{ if gt \(len \$p\) (?P<n>\d+) \}\}"
    r'\{"(?P<k>[a-z-]+)":\{\{ len \$p \}\}\}'
    r'\{\{ else \}\}\{\{ fail "[^"]*" \}\}\{\{ end \}\}'
)


def template_field(text: str) -> tuple[str, int]:
    m = _TEMPLATE.fullmatch(text)
    if not m:
        raise Refused(f"dataTemplate {text!r}: only grange's payload-field form is implemented")
    return m.group("f"), int(m.group("n"))


def check_template(text: str) -> None:
    if not _OVERSIZE.fullmatch(text):
        template_field(text)


def raw_json(value: Any) -> str:
    """Go's json.Marshal of a gjson value: sorted keys, integral numbers without '.0'."""
    return json.dumps(_go_numbers(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _float64(value: Any) -> Any:
    """A JSON value as Go's json.Unmarshal into interface{}: every number a float64."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: _float64(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_float64(v) for v in value]
    return value


def _go_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        # Go's 'f' format with the shortest digits that read back: 2**63 -> 9223372036854775808,
        # 12345678901234567890 -> 12345678901234567000 (not Python's int(float))
        import decimal

        return int(format(decimal.Decimal(repr(value)).normalize(), "f"))
    if isinstance(value, dict):
        return {k: _go_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_go_numbers(v) for v in value]
    return value


def get_path(data: Any, path: str) -> Any:
    """gjson's plain dotted path (no wildcards, queries or escapes)."""
    if re.search(r"[*?#|@\\]", path):
        raise Refused(f"gjson path {path!r}: only plain dotted keys are implemented")
    for key in path.split("."):
        if isinstance(data, Mapping) and key in data:
            data = data[key]
        elif isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        else:
            return _MISSING
    return data


_DEST = re.compile(r"spec\.arguments\.parameters\.#\(name=(?P<p>[^)]+)\)\.value")


def _destination(dest: str) -> str:
    m = _DEST.fullmatch(dest)
    if not m:
        raise Refused(f"dest {dest!r}: only spec.arguments.parameters.#(name=P).value")
    return m.group("p")


def _set(resource: dict[str, Any], dest: str, value: str) -> None:
    name = _destination(dest)
    for p in resource.get("spec", {}).get("arguments", {}).get("parameters", []):
        if p.get("name") == name:
            p["value"] = value
            return
    raise ValueError(f"dest {dest!r}: the resource has no parameter {name!r}")


# -- filters -------------------------------------------------------------------------------


def passes(filters: Mapping[str, Any], data: Any) -> bool:
    """The event passes every expr and data filter (Argo Events' default AND); a field
    whose path does not exist fails it."""
    for expr in filters.get("exprs", []):
        params = {}
        for f in expr.get("fields", []):
            value = get_path(data, f["path"])
            if value is _MISSING:
                return False
            params[f["name"]] = _go_numbers_float(value)
        if params and evaluate(parse_expression(expr["expr"]), params) is not True:
            return False
    for f in filters.get("data", []):
        value = get_path(data, f["path"])
        if value is _MISSING or not _data_match(f, value):
            return False
    return True


def _go_numbers_float(value: Any) -> Any:
    """gjson's Value(): every number a float64."""
    if isinstance(value, bool):
        return value
    return float(value) if isinstance(value, (int, float)) else value


def _data_match(f: Mapping[str, Any], value: Any) -> bool:
    kind, comparator = f["type"], f.get("comparator", "=")
    if kind == "string":
        text = value if isinstance(value, str) else json.dumps(value)
        hits = [re.search(v, text) is not None for v in f["value"]]
        return any(hits) if comparator in ("=", "") else not all(hits)
    if kind == "bool":
        return any((v.lower() == "true") == bool(value) for v in f["value"])
    if kind == "number":
        ops = {"=": float.__eq__, "": float.__eq__, "!=": float.__ne__, ">": float.__gt__,
               ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__}  # fmt: skip
        return any(ops[comparator](float(value), float(v)) for v in f["value"])
    raise Refused(f"data filter type {kind!r}")


_TOKEN = re.compile(
    r"\s*(?:(\|\||&&|==|!=|\(|\))|'([^']*)'|(true|false)\b|(-?\d+(?:\.\d+)?)|([A-Za-z_][\w-]*))"
)


def parse_expression(text: str) -> Any:
    """The govaluate subset: ``a == b``, ``!=``, ``&&``, ``||``, parentheses; operands
    are parameters, 'strings', numbers, true and false."""
    tokens: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise Refused(f"expr {text!r}: cannot read it at {text[pos:]!r}")
        op, string, boolean, number, name = m.groups()
        if op:
            tokens.append(("op", op))
        elif string is not None:
            tokens.append(("lit", govaluate_string(string)))
        elif boolean:
            tokens.append(("lit", boolean == "true"))
        elif number:
            tokens.append(("lit", float(number)))
        else:
            tokens.append(("name", name))
        pos = m.end()
    tree, rest = _or(tokens)
    if rest:
        raise Refused(f"expr {text!r}: unexpected {rest[0][1]!r}")
    return tree


# govaluate's tryParseTime: a quoted literal in one of these layouts is a date, which it
# turns into a float64 (unix seconds), so ``field == '2024-01-01'`` compares a string with
# a number (never equal). Go's layouts as Python's: (regex, strptime format).
_GO_TIME = [
    (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "%Y-%m-%d %H:%M:%S"),
    (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "%Y-%m-%d %H:%M"),
    (r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d"),
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", "iso"),
    (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}", "iso"),
    (r"\d{4}-\d{2}-\d{2}T\d{2}(Z|[+-]\d{4})", "%Y-%m-%dT%H%z"),
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(Z|[+-]\d{4})", "%Y-%m-%dT%H:%M%z"),
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{4})", "iso"),
]
# ANSIC, UnixDate, RubyDate and Kitchen: not implemented (refused rather than guessed)
_GO_TIME_OTHER = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} .*|\d{1,2}:\d{2}(AM|PM)")


def govaluate_string(text: str) -> Any:
    """A quoted literal as govaluate reads it: a date is its unix time (float)."""
    import datetime

    for pattern, layout in _GO_TIME:
        if not re.fullmatch(pattern, text):
            continue
        try:
            if layout == "iso":
                when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            else:
                when = datetime.datetime.strptime(text.replace("Z", "+0000"), layout)
        except ValueError:  # out of range (2024-02-30): Go's Parse fails, a string
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)  # Go: no zone is UTC
        return when.timestamp()
    if _GO_TIME_OTHER.fullmatch(text):
        raise Refused(f"expr literal {text!r}: govaluate's date layouts other than ISO's")
    return text


def _or(tokens: list[tuple[str, Any]]) -> tuple[Any, list[tuple[str, Any]]]:
    left, tokens = _and(tokens)
    while tokens and tokens[0] == ("op", "||"):
        right, tokens = _and(tokens[1:])
        left = ("||", left, right)
    return left, tokens


def _and(tokens: list[tuple[str, Any]]) -> tuple[Any, list[tuple[str, Any]]]:
    left, tokens = _cmp(tokens)
    while tokens and tokens[0] == ("op", "&&"):
        right, tokens = _cmp(tokens[1:])
        left = ("&&", left, right)
    return left, tokens


def _cmp(tokens: list[tuple[str, Any]]) -> tuple[Any, list[tuple[str, Any]]]:
    left, tokens = _atom(tokens)
    if tokens and tokens[0][1] in ("==", "!="):
        op = tokens[0][1]
        right, tokens = _atom(tokens[1:])
        return (op, left, right), tokens
    return left, tokens


def _atom(tokens: list[tuple[str, Any]]) -> tuple[Any, list[tuple[str, Any]]]:
    if not tokens:
        raise Refused("expr: ends too early")
    kind, value = tokens[0]
    if (kind, value) == ("op", "("):
        inner, rest = _or(tokens[1:])
        if not rest or rest[0] != ("op", ")"):
            raise Refused("expr: unbalanced parentheses")
        return inner, rest[1:]
    if kind == "op":
        raise Refused(f"expr: unexpected {value!r}")
    return (kind, value), tokens[1:]


def evaluate(tree: Any, params: Mapping[str, Any]) -> Any:
    op = tree[0]
    if op == "lit":
        return tree[1]
    if op == "name":
        if tree[1] not in params:
            raise ValueError(f"no parameter {tree[1]!r}")
        return params[tree[1]]
    if op == "||":
        return evaluate(tree[1], params) is True or evaluate(tree[2], params) is True
    if op == "&&":
        return evaluate(tree[1], params) is True and evaluate(tree[2], params) is True
    left, right = evaluate(tree[1], params), evaluate(tree[2], params)
    same = type(left) is type(right) and left == right  # reflect.DeepEqual
    return same if op == "==" else not same
