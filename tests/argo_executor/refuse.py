"""The Argo subset the executor implements; anything else is refused, not ignored.

Each object kind lists the fields the executor implements and the fields that
only place or size a pod on a cluster (image, resources, node selection,
labels...), which have no meaning on one host and are accepted as no-ops.
Any other field raises :class:`Refused`, so that the compiler cannot emit
something the end-to-end tests would silently skip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Refused(Exception):
    """A manifest uses a field or form the executor does not implement."""


CLUSTER_ONLY = {
    "template": {
        "metadata",
        "nodeSelector",
        "tolerations",
        "affinity",
        "serviceAccountName",
        "automountServiceAccountToken",
        "securityContext",
        "podSpecPatch",
        "priorityClassName",
        "schedulerName",
        "failFast",  # on a container template Argo ignores it too
    },
    "container": {
        "image",
        "imagePullPolicy",
        "resources",
        "securityContext",
        "terminationMessagePolicy",
        "name",
        "ports",
        "envFrom",
    },
    "spec": {
        "serviceAccountName",
        "workflowMetadata",
        "podMetadata",
        "podGC",
        "ttlStrategy",
        "priority",
        "archiveLogs",
        "imagePullSecrets",
        "securityContext",
        "nodeSelector",
        "tolerations",
        "affinity",
        "podDisruptionBudget",
        "automountServiceAccountToken",
        "volumeClaimTemplates",
    },
}

IMPLEMENTED = {
    "manifest": {"apiVersion", "kind", "metadata", "spec"},
    "spec": {
        "entrypoint",
        "templates",
        "arguments",
        "parallelism",
        "onExit",
        "templateDefaults",
        "activeDeadlineSeconds",
        "volumes",
        "workflowTemplateRef",
    },
    "template": {
        "name",
        "inputs",
        "outputs",
        "dag",
        "container",
        "retryStrategy",
        "activeDeadlineSeconds",
        "volumes",
    },
    "container": {"command", "args", "env", "volumeMounts", "workingDir"},
    "dag": {"tasks", "failFast"},
    "task": {
        "name",
        "template",
        "arguments",
        "depends",
        "when",
        "withParam",
        "withSequence",
        "withItems",
    },
    "retryStrategy": {"limit", "retryPolicy", "backoff"},
    "backoff": {"duration", "factor", "maxDuration"},
    "withSequence": {"start", "end", "count"},
    "inputs": {"parameters"},
    "outputs": {"parameters"},
    "arguments": {"parameters"},
    "parameter": {"name", "value", "default", "valueFrom", "description", "enum"},
    "valueFrom": {"path", "parameter", "default"},
    "env": {"name", "value", "valueFrom"},
    "envValueFrom": {"fieldRef"},
    "volumeMount": {"name", "mountPath", "readOnly"},
    "volume": {"name", "emptyDir"},
    "workflowTemplateRef": {"name"},
}

RETRY_POLICIES = {"Always", "OnFailure", "OnError", "OnTransientError"}


def check(kind: str, obj: Any, where: str) -> Mapping[str, Any]:
    """``obj`` if it is a mapping holding only known fields of ``kind``."""
    if not isinstance(obj, Mapping):
        raise Refused(f"{where}: expected an object, got {type(obj).__name__}")
    known = IMPLEMENTED[kind] | CLUSTER_ONLY.get(kind, set())
    unknown = sorted(set(obj) - known)
    if unknown:
        raise Refused(f"{where}: field(s) {', '.join(unknown)} not implemented by the executor")
    for key, value in obj.items():
        if value is None:
            raise Refused(f"{where}.{key}: null (Argo's schemas allow no nulls)")
    return obj


def check_template(template: Mapping[str, Any], where: str) -> None:
    check("template", template, where)
    kinds = [k for k in ("dag", "container") if k in template]
    if len(kinds) != 1:
        raise Refused(f"{where}: a template must be exactly one of dag/container, has {kinds}")
    for io in ("inputs", "outputs"):
        if io in template:
            check(io, template[io], f"{where}.{io}")
            for i, p in enumerate(template[io].get("parameters", [])):
                check("parameter", p, f"{where}.{io}.parameters[{i}]")
                if "valueFrom" in p:
                    check("valueFrom", p["valueFrom"], f"{where}.{io}.parameters[{i}].valueFrom")
    if "container" in template:
        c = check("container", template["container"], f"{where}.container")
        for i, e in enumerate(c.get("env", [])):
            check("env", e, f"{where}.container.env[{i}]")
            if "valueFrom" in e:
                vf = check("envValueFrom", e["valueFrom"], f"{where}.container.env[{i}].valueFrom")
                path = vf["fieldRef"].get("fieldPath")
                if path not in (
                    "metadata.name",
                    "metadata.namespace",
                    "metadata.uid",
                    "status.podIP",
                ):
                    raise Refused(f"{where}.container.env[{i}]: fieldRef {path!r}")
        for i, m in enumerate(c.get("volumeMounts", [])):
            check("volumeMount", m, f"{where}.container.volumeMounts[{i}]")
    if "dag" in template:
        dag = check("dag", template["dag"], f"{where}.dag")
        for task in dag.get("tasks", []):
            tw = f"{where}.dag.tasks[{task.get('name')}]"
            check("task", task, tw)
            if "arguments" in task:
                check("arguments", task["arguments"], f"{tw}.arguments")
                for p in task["arguments"].get("parameters", []):
                    check("parameter", p, f"{tw}.arguments.parameters")
                    if "valueFrom" in p:
                        raise Refused(f"{tw}: argument valueFrom")
            if "withSequence" in task:
                check("withSequence", task["withSequence"], f"{tw}.withSequence")
    if "retryStrategy" in template:
        rs = check("retryStrategy", template["retryStrategy"], f"{where}.retryStrategy")
        if rs.get("retryPolicy", "OnFailure") not in RETRY_POLICIES:
            raise Refused(f"{where}.retryStrategy.retryPolicy {rs['retryPolicy']!r}")
        if "backoff" in rs:
            check("backoff", rs["backoff"], f"{where}.retryStrategy.backoff")
    for i, v in enumerate(template.get("volumes", [])):
        check_volume(v, f"{where}.volumes[{i}]")


def check_volume(volume: Mapping[str, Any], where: str) -> None:
    check("volume", volume, where)
    if "emptyDir" not in volume:
        raise Refused(f"{where}: only emptyDir volumes are implemented")
