"""The fake API server's objects: kinds, bookkeeping, validation, patches and ``Status`` errors.

Everything here answers as a real API server does (messages copied from its
wording, not its code): names from ``generateName``, ``uid``,
``creationTimestamp``, a ``resourceVersion`` bumped on every write (a stale one
on update: 409 Conflict), 404/409/422 ``Status`` objects.
"""

from __future__ import annotations

import copy
import datetime
import json
import random
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kubernetes_validate

import argo_schema

K8S_VERSION = "1.33.0"
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_GENERATED = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet of generated name suffixes


@dataclass(frozen=True)
class Kind:
    """One resource type the fake serves."""

    group: str  # "" for core
    version: str
    plural: str
    kind: str
    custom: bool = False  # a CRD: updates need a resourceVersion, no strategic merge
    max_name: int = 253

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:  # as in messages: jobs.batch, workflows.argoproj.io, pods
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def validate(self, body: dict[str, Any]) -> list[str]:
        if self.group == "argoproj.io":
            return argo_schema.validate(body)
        try:
            kubernetes_validate.validate(body, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            path = ".".join(str(p) for p in err.path)
            return [f"{path}: {err.message}" if path else err.message]
        return pod_rules(self, body)


def pod_rules(kind: Kind, body: dict[str, Any]) -> list[str]:
    """What the API server checks beyond the schema, for the pods of Jobs and Pods."""
    spec = body.get("spec") or {}
    prefix = "spec."
    if kind.plural == "jobs":
        spec = (spec.get("template") or {}).get("spec") or {}
        prefix = "spec.template.spec."
    problems = []
    containers = spec.get("containers") or []
    if not containers:
        problems.append(f"{prefix}containers: Required value")
    for i, container in enumerate(containers):
        if not container.get("image"):
            problems.append(f"{prefix}containers[{i}].image: Required value")
        if not container.get("name"):
            problems.append(f"{prefix}containers[{i}].name: Required value")
    policy = spec.get("restartPolicy", "Always")
    if kind.plural == "jobs" and policy not in ("Never", "OnFailure"):
        problems.append(
            f'{prefix}restartPolicy: Unsupported value: "{policy}": supported values: '
            '"OnFailure", "Never"'
        )
    return problems


KINDS = {
    k.plural: k
    for k in (
        Kind("", "v1", "pods", "Pod"),
        Kind("batch", "v1", "jobs", "Job", max_name=63),
        Kind("argoproj.io", "v1alpha1", "workflows", "Workflow", custom=True),
        Kind("argoproj.io", "v1alpha1", "workflowtemplates", "WorkflowTemplate", custom=True),
        Kind("argoproj.io", "v1alpha1", "cronworkflows", "CronWorkflow", custom=True),
        Kind("argoproj.io", "v1alpha1", "sensors", "Sensor", custom=True),
        Kind("argoproj.io", "v1alpha1", "eventsources", "EventSource", custom=True),
    )
}


class ApiError(Exception):
    """An error answer: a ``Status`` object with its HTTP code."""

    def __init__(self, code: int, reason: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "details": details,
            "code": code,
        }


def not_found(kind: Kind, name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'{kind.resource} "{name}" not found', name=name, kind=kind.plural
    )


def invalid(kind: Kind, name: str, problems: list[str]) -> ApiError:
    what = f"{kind.kind}.{kind.group}" if kind.group else kind.kind
    causes = [{"reason": "FieldValueInvalid", "message": p} for p in problems]
    return ApiError(
        422,
        "Invalid",
        f'{what} "{name}" is invalid: {"; ".join(problems)}',
        name=name,
        kind=kind.kind,
        causes=causes,
    )


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """Objects by (plural, namespace, name), and the hooks run when they change."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._version = 1000
        self.on_create: list[Callable[[str, dict[str, Any]], None]] = []
        self.on_delete: list[Callable[[str, dict[str, Any], str], None]] = []

    def _bump(self) -> str:
        self._version += 1
        return str(self._version)

    # -- reading ----------------------------------------------------------------------

    def get(self, kind: Kind, ns: str, name: str) -> dict[str, Any]:
        with self.lock:
            obj = self.objects.get((kind.plural, ns, name))
            if obj is None:
                raise not_found(kind, name)
            return copy.deepcopy(obj)

    def list(self, kind: Kind, ns: str | None, selector: str = "") -> dict[str, Any]:
        match = selector_matcher(selector)
        with self.lock:
            items = [
                copy.deepcopy(o)
                for (plural, n, _), o in sorted(self.objects.items())
                if plural == kind.plural
                and (ns is None or n == ns)
                and match(o["metadata"].get("labels") or {})
            ]
            return {
                "kind": f"{kind.kind}List",
                "apiVersion": kind.api_version,
                "metadata": {"resourceVersion": str(self._version)},
                "items": items,
            }

    # -- writing ----------------------------------------------------------------------

    def create(self, kind: Kind, ns: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        obj = copy.deepcopy(body)
        obj.setdefault("apiVersion", kind.api_version)
        obj.setdefault("kind", kind.kind)
        meta = obj.setdefault("metadata", {})
        if meta.get("namespace") not in (None, ns):
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace "
                "sent on the request",
            )
        with self.lock:
            if not meta.get("name"):
                base = meta.get("generateName")
                if not base:
                    raise invalid(
                        kind,
                        "",
                        ["metadata.name: Required value: name or generateName is required"],
                    )
                base = base[: kind.max_name - 5]
                for _ in range(100):
                    name = base + "".join(random.choice(_GENERATED) for _ in range(5))
                    if (kind.plural, ns, name) not in self.objects:
                        break
                meta["name"] = name
            name = meta["name"]
            self._check(kind, name, obj)
            if (kind.plural, ns, name) in self.objects:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{kind.resource} "{name}" already exists',
                    name=name,
                    kind=kind.plural,
                )
            meta.update(
                namespace=ns,
                uid=str(uuid.uuid4()),
                creationTimestamp=now(),
                resourceVersion=self._bump(),
                generation=1,
            )
            self.objects[(kind.plural, ns, name)] = obj
            result = copy.deepcopy(obj)
        for hook in self.on_create:
            hook(kind.plural, result)
        return result

    def replace(self, kind: Kind, ns: str, name: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        obj = copy.deepcopy(body)
        obj.setdefault("apiVersion", kind.api_version)
        obj.setdefault("kind", kind.kind)
        meta = obj.setdefault("metadata", {})
        if meta.get("name") not in (None, name):
            raise ApiError(
                400,
                "BadRequest",
                f"the name of the object ({meta.get('name')}) does not match the name on "
                f"the URL ({name})",
            )
        with self.lock:
            old = self.objects.get((kind.plural, ns, name))
            if old is None:
                raise not_found(kind, name)
            given = meta.get("resourceVersion")
            if not given and kind.custom:
                raise invalid(
                    kind,
                    name,
                    [
                        "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
                    ],
                )
            if given and given != old["metadata"]["resourceVersion"]:
                raise conflict(kind, name)
            return self._store(kind, ns, name, obj, old)

    def patch(
        self, kind: Kind, ns: str, name: str, patch: Any, content_type: str
    ) -> dict[str, Any]:
        with self.lock:
            old = self.objects.get((kind.plural, ns, name))
            if old is None:
                raise not_found(kind, name)
            if content_type.startswith("application/json-patch+json"):
                obj = json_patch(copy.deepcopy(old), patch)
            elif content_type.startswith("application/merge-patch+json") or (
                content_type.startswith("application/strategic-merge-patch+json")
                and not kind.custom
            ):
                obj = merge_patch(copy.deepcopy(old), patch)
            else:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types "
                    f"include: application/json-patch+json, application/merge-patch+json "
                    f"(got {content_type})",
                )
            given = (obj.get("metadata") or {}).get("resourceVersion")
            if given and given != old["metadata"]["resourceVersion"]:
                raise conflict(kind, name)
            return self._store(kind, ns, name, obj, old)

    def _store(
        self, kind: Kind, ns: str, name: str, obj: dict[str, Any], old: dict[str, Any]
    ) -> dict[str, Any]:
        self._check(kind, name, obj)
        meta = obj["metadata"]
        for key in ("uid", "creationTimestamp"):
            meta[key] = old["metadata"][key]
        meta.update(namespace=ns, name=name, resourceVersion=self._bump())
        changed = obj.get("spec") != old.get("spec")
        meta["generation"] = old["metadata"].get("generation", 1) + int(changed)
        self.objects[(kind.plural, ns, name)] = obj
        return copy.deepcopy(obj)

    def update_status(
        self, plural: str, ns: str, name: str, change: Callable[[dict[str, Any]], None]
    ) -> bool:
        """Change an object in place as a controller does (no validation); False if gone."""
        with self.lock:
            obj = self.objects.get((plural, ns, name))
            if obj is None:
                return False
            change(obj)
            obj["metadata"]["resourceVersion"] = self._bump()
            return True

    def delete(self, kind: Kind, ns: str, name: str, propagation: str) -> dict[str, Any]:
        with self.lock:
            obj = self.objects.pop((kind.plural, ns, name), None)
            if obj is None:
                raise not_found(kind, name)
        for hook in self.on_delete:
            hook(kind.plural, obj, propagation)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "kind": kind.plural, "uid": obj["metadata"]["uid"]},
        }

    def _check(self, kind: Kind, name: str, obj: dict[str, Any]) -> None:
        problems = []
        if len(name) > kind.max_name or not _SUBDOMAIN.fullmatch(name):
            problems.append(
                f"metadata.name: Invalid value: {json.dumps(name)}: must be no more than "
                f"{kind.max_name} characters of lowercase alphanumerics, '-' and '.', "
                "starting and ending alphanumeric"
            )
        problems += kind.validate(obj)
        if problems:
            raise invalid(kind, name, problems)


def conflict(kind: Kind, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {kind.resource} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        name=name,
        kind=kind.plural,
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = merge_patch(target.get(key), value)
    return target


def json_patch(target: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch: add, replace, remove, test."""
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "a JSON patch is a list of operations")
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = target
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        kind = op["op"]
        try:
            if kind == "test":
                current = parent[int(last)] if isinstance(parent, list) else parent[last]
                if current != op["value"]:
                    raise ApiError(422, "Invalid", f"the test at {op['path']} failed")
            elif kind == "remove":
                del parent[int(last) if isinstance(parent, list) else last]
            elif isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if kind == "add":
                    parent.insert(index, op["value"])
                else:
                    parent[index] = op["value"]
            else:
                if kind == "replace" and last not in parent:
                    raise KeyError(last)
                parent[last] = op["value"]
        except (KeyError, IndexError, ValueError):
            raise ApiError(
                422,
                "Invalid",
                f"the server rejected our request: {kind} {op['path']}: no such path",
            ) from None
    return target


def selector_matcher(selector: str) -> Callable[[dict[str, str]], bool]:
    """A label selector (``a=b,c!=d,e,!f``) as a predicate over labels."""
    terms = [t.strip() for t in selector.split(",") if t.strip()]

    def match(labels: dict[str, str]) -> bool:
        for term in terms:
            if "!=" in term:
                key, value = term.split("!=", 1)
                if labels.get(key.strip()) == value.strip():
                    return False
            elif "=" in term:
                key, value = term.replace("==", "=").split("=", 1)
                if labels.get(key.strip()) != value.strip():
                    return False
            elif term.startswith("!"):
                if term[1:] in labels:
                    return False
            elif term not in labels:
                return False
        return True

    return match
