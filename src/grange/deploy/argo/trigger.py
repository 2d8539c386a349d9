"""The Workflow a trigger submits: a reference to the template plus arguments."""

from __future__ import annotations

import json
from typing import Any

from hera.workflows import models as m

from grange.deploy.argo import parameters as params
from grange.deploy.argo.manifests import API_VERSION, to_dict
from grange.deploy.argo.metadata import PREFIX
from grange.exceptions import ParameterError

# Argo's generateName adds 5 random characters (27^5 names): with finished Workflows
# deleted by their TTL, a name (and so a run id, argo-<name>) comes back after some
# thousands of runs, and the datastore refuses the run. Ten base-36 characters
# (3.6e15 names) do not; the template name is at most 52 characters, so the
# Workflow's stays within Argo's 63.
_SUFFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def run_name(template: str) -> str:
    """A Workflow name for a run of ``template``: ``<template>-<10 random characters>``."""
    import secrets

    return f"{template}-" + "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(10))


def trigger_workflow(template: dict[str, Any], parameters: dict[str, Any], user: str) -> dict:
    """A ``Workflow`` running ``template`` (a WorkflowTemplate as the cluster returned
    it, or as compiled) with ``parameters`` (values as Python objects, by parameter
    name): each JSON-encoded; parameters not given keep the template's defaults.
    A parameter the flow does not have, or a required one not given, is an error."""
    meta = template.get("metadata", {})
    annotations = meta.get("annotations", {})
    declared = json.loads(annotations.get(f"{PREFIX}parameters", "[]"))
    known = {p["name"]: p for p in declared}
    defaults = {
        p["name"]: p.get("value")
        for p in template.get("spec", {}).get("arguments", {}).get("parameters", [])
    }
    for name in parameters:
        if name not in known:
            hint = ", ".join(sorted(known)) or "none"
            raise ParameterError(
                f"flow {annotations.get(f'{PREFIX}flow-name', '?')} has no parameter '{name}'",
                parameter=name,
                fix=f"give one of its parameters: {hint}",
            )
    values: list[m.Parameter] = []
    for name in known:
        if name in parameters:
            text = params.encode(parameters[name])
            if len(text.encode()) > params.MAX_VALUE_BYTES:
                raise ParameterError(
                    f"the value of parameter '{name}' is {len(text.encode())} bytes of JSON, "
                    f"more than the {params.MAX_VALUE_BYTES} an Argo parameter may carry",
                    parameter=name,
                    fix="store large values in S3 and pass their location instead",
                )
            values.append(m.Parameter(name=name, value=text))
        elif defaults.get(name) is None:
            raise ParameterError(
                f"parameter '{name}' is required and has no default",
                parameter=name,
                fix=f"give it a value: trigger --{name} VALUE",
            )
    workflow = m.Workflow(
        api_version=API_VERSION,
        kind="Workflow",
        metadata=m.ObjectMeta(
            name=run_name(meta["name"]),
            namespace=meta.get("namespace"),
            annotations={
                f"{PREFIX}triggered-by": user,
                f"{PREFIX}flow-name": str(annotations.get(f"{PREFIX}flow-name", "")),
            },
            labels={
                k: v for k, v in (meta.get("labels") or {}).items() if k != "app.kubernetes.io/name"
            }
            | {"app.kubernetes.io/name": "grange-run"},
        ),
        spec=m.WorkflowSpec(
            workflow_template_ref=m.WorkflowTemplateRef(name=meta["name"]),
            arguments=m.Arguments(parameters=values) if values else None,
        ),
    )
    return to_dict(workflow)
