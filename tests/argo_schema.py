"""Validate Argo documents against the vendored schemas in ``tests/schemas/``.

``validate(doc) -> list[str]`` returns one message per problem (``[]``: valid),
each as ``"<path>: <message>"``. The kind is chosen from ``apiVersion``/``kind``:
Workflow, WorkflowTemplate, CronWorkflow, ClusterWorkflowTemplate (argo-workflows
schema) and Sensor, EventSource, EventBus (argo-events schema).

Strict mode, stricter than an API server, so that mistakes cannot pass silently:

* every object definition that lists ``properties`` and says nothing about
  ``additionalProperties`` gets ``additionalProperties: false`` (a misspelt
  field, e.g. ``tempalte:``, is an error; a real server would drop it);
* a ``null`` anywhere in the document is an error (a server reads it as "unset";
  grange leaves such fields out instead).

What the schemas get wrong is corrected as the API server reads it:
``IntOrString`` accepts integers and strings, ``Quantity`` numbers and strings
(the generated schema types both as plain strings).

Validators are built once per process (lazily, on first use of each kind).
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMAS = Path(__file__).parent / "schemas"

_WORKFLOWS = "argo-workflows/schema.json"
_EVENTS = "argo-events/schema.json"

KINDS: dict[str, tuple[str, str]] = {
    "Workflow": (_WORKFLOWS, "io.argoproj.workflow.v1alpha1.Workflow"),
    "WorkflowTemplate": (_WORKFLOWS, "io.argoproj.workflow.v1alpha1.WorkflowTemplate"),
    "CronWorkflow": (_WORKFLOWS, "io.argoproj.workflow.v1alpha1.CronWorkflow"),
    "ClusterWorkflowTemplate": (
        _WORKFLOWS,
        "io.argoproj.workflow.v1alpha1.ClusterWorkflowTemplate",
    ),
    "Sensor": (_EVENTS, "io.argoproj.events.v1alpha1.Sensor"),
    "EventSource": (_EVENTS, "io.argoproj.events.v1alpha1.EventSource"),
    "EventBus": (_EVENTS, "io.argoproj.events.v1alpha1.EventBus"),
}

API_VERSION = "argoproj.io/v1alpha1"


def validate(doc: Any) -> list[str]:
    """Every problem of ``doc`` (an Argo object as a JSON-like dict); ``[]`` if valid."""
    if not isinstance(doc, dict):
        return [f"<root>: an Argo object is a mapping, not {type(doc).__name__}"]
    kind = doc.get("kind")
    if doc.get("apiVersion") != API_VERSION:
        return [f"apiVersion: {doc.get('apiVersion')!r} is not {API_VERSION!r}"]
    if kind not in KINDS:
        return [f"kind: {kind!r} is not one of {', '.join(sorted(KINDS))}"]
    problems = [f"{path}: null is not allowed (leave the field out)" for path in _nulls(doc)]
    validator = _validator(kind)
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        path = "/".join(map(str, error.absolute_path)) or "<root>"
        problems.append(f"{path}: {error.message}")
    return problems


def supported_kinds() -> list[str]:
    return sorted(KINDS)


@functools.cache
def _validator(kind: str) -> Draft202012Validator:
    file, key = KINDS[kind]
    defs = _strict_definitions(file)
    return Draft202012Validator({"definitions": defs, "$ref": f"#/definitions/{key}"})


@functools.cache
def _strict_definitions(file: str) -> dict[str, Any]:
    defs = copy.deepcopy(json.loads((SCHEMAS / file).read_text())["definitions"])
    for schema in defs.values():
        _close_objects(schema)
    defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["integer", "string"]}
    defs["io.k8s.apimachinery.pkg.api.resource.Quantity"] = {"type": ["number", "string"]}
    return defs


def _close_objects(schema: Any) -> None:
    """Add ``additionalProperties: false`` to every object schema with ``properties``."""
    if isinstance(schema, dict):
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
        ):
            schema["additionalProperties"] = False
        for value in schema.values():
            _close_objects(value)
    elif isinstance(schema, list):
        for value in schema:
            _close_objects(value)


def _nulls(value: Any, path: str = "") -> list[str]:
    if value is None:
        return [path or "<root>"]
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _nulls(item, f"{path}/{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _nulls(item, f"{path}/{i}" if path else str(i))
    return out
