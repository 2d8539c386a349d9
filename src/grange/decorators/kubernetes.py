"""``@kubernetes(...)``: run a step's tasks as Kubernetes pods.

Arguments, defaults and checks follow Metaflow's decorator of the same name
(the same flow runs unchanged); every mistake is a :class:`DecoratorError`
naming the argument and the rule. What the pod becomes is decided in one place,
:func:`grange.compute.kubernetes.pod.plan_pod`; this module only checks and
records the arguments (:class:`~grange.decorators.options.KubernetesOptions`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from grange.decorators.base import StepDecorator, make_step_decorator
from grange.decorators.options import KubernetesOptions, TaskOptions
from grange.exceptions import DecoratorError

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")

QOS_CLASSES = ("guaranteed", "burstable")
GPU_VENDORS = ("amd", "nvidia")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TOLERATION_KEYS = {
    "key": "key",
    "operator": "operator",
    "value": "value",
    "effect": "effect",
    "toleration_seconds": "toleration_seconds",
    "tolerationSeconds": "toleration_seconds",
}
TOLERATION_OPERATORS = ("Exists", "Equal")
TOLERATION_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def dns_label_problem(value: str) -> str | None:
    """Why ``value`` is not an RFC 1123 label (a namespace, a volume name), or None."""
    if len(value) > 63 or not _LABEL.fullmatch(value):
        return (
            "must be at most 63 lowercase letters, digits and '-', starting and ending alphanumeric"
        )
    return None


def subdomain_problem(value: str) -> str | None:
    """Why ``value`` is not an RFC 1123 subdomain (a Secret or service account name), or None."""
    if len(value) > 253 or not _SUBDOMAIN.fullmatch(value):
        return (
            "must be at most 253 lowercase letters, digits, '-' and '.', "
            "starting and ending alphanumeric"
        )
    return None


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a label or annotation key (``[prefix/]name``), or None."""
    prefix, _, name = key.rpartition("/")
    if prefix and subdomain_problem(prefix):
        return f"its prefix {prefix!r} is not a DNS subdomain (lowercase, digits, '-', '.')"
    if len(name) > 63 or not _NAME.fullmatch(name):
        return (
            "its name must be at most 63 letters, digits, '-', '_' and '.', "
            "starting and ending alphanumeric"
        )
    return None


def label_value_problem(value: str) -> str | None:
    """Why ``value`` is not a label value, or None (empty is allowed)."""
    if value and (len(value) > 63 or not _NAME.fullmatch(value)):
        return (
            "a label value is empty or at most 63 letters, digits, '-', '_' and '.', "
            "starting and ending alphanumeric"
        )
    return None


def parse_key_values(text: str) -> dict[str, str]:
    """``"k=v,k2=v2"`` as a dict; ValueError naming the first bad item."""
    out: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{item!r} is not key=value")
        if key.strip() in out:
            raise ValueError(f"{key.strip()!r} is given twice")
        out[key.strip()] = value.strip()
    return out


class KubernetesDecorator(StepDecorator):
    """Run each task of the step as a Kubernetes pod (a Job of ``run``, a container on Argo).

    ``cpu``, ``memory`` (MiB) and ``disk`` (MiB) are requested as the larger of
    these and ``@resources``; ``gpu`` is a limit of ``<gpu_vendor>.com/gpu``.
    ``image`` defaults to the profile's ``[kubernetes] image``, then to
    ``python:<major>.<minor>`` of the interpreter that runs the flow.
    """

    name = "kubernetes"
    defaults = {
        "cpu": 1,
        "memory": 4096,
        "disk": 10240,
        "image": None,
        "image_pull_policy": None,
        "gpu": None,
        "gpu_vendor": None,
        "namespace": None,
        "service_account": None,
        "secrets": None,
        "node_selector": None,
        "tolerations": None,
        "labels": None,
        "annotations": None,
        "persistent_volume_claims": None,
        "shared_memory": None,
        "use_tmpfs": False,
        "tmpfs_size": None,
        "tmpfs_path": "/grange_temp",
        "port": None,
        "qos": None,
    }

    def validate(self) -> None:
        self.options = check_kubernetes(self.attributes, where=f"@{self.name}")

    def task_options(self, *, options: TaskOptions) -> None:
        options.kubernetes = self.options


def _fail(where: str, arg: str, value: Any, rule: str, example: str) -> DecoratorError:
    if where.startswith("["):  # a profile's table: [kubernetes] key = value
        return DecoratorError(
            f"{where} {arg} = {value!r}: {rule}", fix=f"write e.g. {arg} = {example}"
        )
    return DecoratorError(
        f"{where}({arg}={value!r}): {rule}", fix=f"write e.g. {where}({arg}={example})"
    )


def check_kubernetes(a: Mapping[str, Any], *, where: str = "@kubernetes") -> KubernetesOptions:
    """The options ``a`` (``@kubernetes``'s arguments, or a profile's ``[kubernetes]``
    settings) asks for; a :class:`DecoratorError` naming the first bad argument."""
    o = KubernetesOptions()
    for arg, example in (("cpu", "2"), ("memory", "8192"), ("disk", "20480")):
        if a.get(arg) is None:
            continue
        number = _number(a[arg])
        if number is None or number <= 0:
            raise _fail(where, arg, a[arg], "must be a number above 0", example)
        if arg == "cpu":
            o.cpu = number
        elif not float(number).is_integer():
            raise _fail(where, arg, a[arg], "must be a whole number of MiB", example)
        else:
            setattr(o, arg, int(number))
    for arg in ("gpu", "shared_memory", "tmpfs_size", "port"):
        value = a.get(arg)
        if value is None:
            continue
        number = _number(value)
        low = 0 if arg == "gpu" else 1
        high = 65535 if arg == "port" else None
        if (
            number is None
            or not float(number).is_integer()
            or number < low
            or (high and number > high)
        ):
            rule = f"must be a whole number from {low}" + (f" to {high}" if high else " up")
            raise _fail(where, arg, value, rule, "1" if arg != "port" else "8080")
        setattr(o, arg, int(number))
    o.image = _text(a, "image", where, "'python:3.11'")
    o.image_pull_policy = _choice(a, "image_pull_policy", PULL_POLICIES, where)
    vendor = _choice(a, "gpu_vendor", GPU_VENDORS, where, fold=True)
    o.gpu_vendor = vendor.lower() if vendor else None
    qos = _choice(a, "qos", QOS_CLASSES, where, fold=True)
    o.qos = qos.lower() if qos else None
    o.namespace = _text(a, "namespace", where, "'ml'", dns_label_problem)
    o.service_account = _text(a, "service_account", where, "'runner'", subdomain_problem)
    o.secrets = _secrets(a.get("secrets"), where)
    o.node_selector = _selector(a.get("node_selector"), where)
    o.tolerations = _tolerations(a.get("tolerations"), where)
    o.labels = _pairs(a.get("labels"), "labels", where, values_are_labels=True)
    o.annotations = _pairs(a.get("annotations"), "annotations", where, values_are_labels=False)
    o.persistent_volume_claims = _claims(a.get("persistent_volume_claims"), where)
    use_tmpfs = a.get("use_tmpfs")
    if use_tmpfs is not None and not isinstance(use_tmpfs, bool):
        raise _fail(where, "use_tmpfs", use_tmpfs, "must be True or False", "True")
    o.use_tmpfs = bool(use_tmpfs)
    path = _text(a, "tmpfs_path", where, "'/grange_temp'")
    if path is not None:
        if not path.startswith("/"):
            raise _fail(where, "tmpfs_path", path, "must be an absolute path", "'/grange_temp'")
        o.tmpfs_path = path
    return o


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _text(
    a: Mapping[str, Any], arg: str, where: str, example: str, check: Any = None
) -> str | None:
    value = a.get(arg)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, arg, value, "must be a non-empty string", example)
    problem = check(value) if check else None
    if problem:
        raise _fail(where, arg, value, f"{arg} {problem}", example)
    return value.strip()


def _choice(
    a: Mapping[str, Any], arg: str, choices: tuple[str, ...], where: str, *, fold: bool = False
) -> str | None:
    value = a.get(arg)
    if value is None:
        return None
    ok = isinstance(value, str) and (
        value.lower() in (c.lower() for c in choices) if fold else value in choices
    )
    if not ok:
        raise _fail(where, arg, value, f"must be one of {', '.join(choices)}", repr(choices[0]))
    return str(value)


def _secrets(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    names = [s.strip() for s in value.split(",")] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise _fail(where, "secrets", value, "must be a list of Secret names", "['db-creds']")
    for name in names:
        problem = subdomain_problem(name)
        if problem:
            raise _fail(
                where, "secrets", value, f"the Secret name {name!r} {problem}", "['db-creds']"
            )
    return tuple(n for n in names if n)


def _selector(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    example = "{'kubernetes.io/arch': 'amd64'} or 'kubernetes.io/arch=amd64'"
    if isinstance(value, str):
        try:
            value = parse_key_values(value)
        except ValueError as err:
            raise _fail(where, "node_selector", value, str(err), example) from None
    return _pairs(value, "node_selector", where, values_are_labels=True, example=example)


def _pairs(
    value: Any, arg: str, where: str, *, values_are_labels: bool, example: str = ""
) -> dict[str, str]:
    example = example or "{'team': 'ml'}"
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(where, arg, value, "must be a dict of keys to values", example)
    out: dict[str, str] = {}
    for key, raw in value.items():
        if not isinstance(key, str):
            raise _fail(where, arg, value, f"the key {key!r} is not a string", example)
        problem = key_problem(key)
        if problem:
            raise _fail(where, arg, value, f"the key {key!r}: {problem}", example)
        if raw is None or isinstance(raw, (dict, list, tuple)):
            raise _fail(where, arg, value, f"the value of {key!r} must be a string", example)
        text = str(raw).lower() if isinstance(raw, bool) else str(raw)
        problem = label_value_problem(text) if values_are_labels else None
        if problem:
            raise _fail(where, arg, value, f"the value {text!r} of {key!r}: {problem}", example)
        out[key] = text
    return out


def _tolerations(value: Any, where: str) -> list[dict[str, object]]:
    example = "[{'key': 'gpu', 'operator': 'Exists', 'effect': 'NoSchedule'}]"
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise _fail(where, "tolerations", value, "must be a list of dicts", example)
    out: list[dict[str, object]] = []
    for item in value:
        if not isinstance(item, Mapping):
            raise _fail(where, "tolerations", value, f"{item!r} is not a dict", example)
        unknown = sorted(str(k) for k in item if k not in TOLERATION_KEYS)
        if unknown:
            rule = (
                f"unknown key(s) {', '.join(unknown)} "
                f"(a toleration has {', '.join(sorted(set(TOLERATION_KEYS.values())))})"
            )
            raise _fail(where, "tolerations", value, rule, example)
        t = {TOLERATION_KEYS[k]: v for k, v in item.items()}
        if t.get("operator") not in (None, *TOLERATION_OPERATORS):
            rule = f"operator {t['operator']!r} is not Exists or Equal"
            raise _fail(where, "tolerations", value, rule, example)
        if t.get("effect") not in (None, "", *TOLERATION_EFFECTS):
            rule = f"effect {t['effect']!r} is not one of {', '.join(TOLERATION_EFFECTS)}"
            raise _fail(where, "tolerations", value, rule, example)
        seconds = t.get("toleration_seconds")
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int)):
            rule = "toleration_seconds must be a whole number"
            raise _fail(where, "tolerations", value, rule, example)
        for k in ("key", "value"):
            if t.get(k) is not None and not isinstance(t[k], str):
                raise _fail(where, "tolerations", value, f"{k} must be a string", example)
        out.append(t)
    return out


def _claims(value: Any, where: str) -> dict[str, str]:
    example = "{'training-data': '/mnt/data'}"
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(
            where,
            "persistent_volume_claims",
            value,
            "must be a dict of claim names to mount paths",
            example,
        )
    out: dict[str, str] = {}
    for claim, path in value.items():
        problem = subdomain_problem(claim) if isinstance(claim, str) else "is not a string"
        if problem:
            rule = f"the claim name {claim!r} {problem}"
            raise _fail(where, "persistent_volume_claims", value, rule, example)
        if not isinstance(path, str) or not path.startswith("/"):
            rule = f"the mount path of {claim!r} must be an absolute path"
            raise _fail(where, "persistent_volume_claims", value, rule, example)
        out[claim] = path
    return out


kubernetes = make_step_decorator(KubernetesDecorator)
