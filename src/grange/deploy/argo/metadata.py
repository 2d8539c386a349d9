"""Labels and annotations that mark grange's objects and say what they hold.

Labels (short, selectable): ``app.kubernetes.io/part-of: grange``,
``app.kubernetes.io/name`` (``grange-flow`` on the template, ``grange-run`` on
its Workflows, ``grange-task`` on their pods), ``grange.dev/workflow-template``,
and the project and branch when they fit a label value.

Annotations (any text): the flow, owner, parameters (name, type, required),
project facts, tags, the code package and grange's version. The CLI reads them
back (``trigger``, ``delete``): they are the deployment's own record.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hera.workflows import models as m

from grange.deploy.argo import parameters as params
from grange.deploy.argo.settings import ArgoSettings
from grange.graph.model import FlowGraph

PREFIX = "grange.dev/"
RUN_ID = "argo-{{workflow.name}}"
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def object_labels(name: str, settings: ArgoSettings, kind: str) -> dict[str, str]:
    out = dict(settings.labels)
    out.update(
        {
            "app.kubernetes.io/part-of": "grange",
            "app.kubernetes.io/name": f"grange-{kind}",
            f"{PREFIX}workflow-template": name,
        }
    )
    project = settings.project or {}
    for key, field in (("project", "project_name"), ("branch", "branch_name")):
        value = str(project.get(field) or "")
        if is_label_value(value):
            out[f"{PREFIX}{key}"] = value
    return out


def is_label_value(value: str) -> bool:
    """Whether ``value`` can be a Kubernetes label's value (at most 63 characters, ...):
    a project or branch name that cannot gets no ``grange.dev/`` label."""
    return bool(value) and len(value) <= 63 and bool(_LABEL_VALUE.match(value))


def object_annotations(graph: FlowGraph, settings: ArgoSettings) -> dict[str, str]:
    from grange import __version__

    out = dict(settings.annotations)
    out.update(
        {
            f"{PREFIX}flow-name": graph.name,
            f"{PREFIX}owner": settings.user,
            f"{PREFIX}parameters": params.annotation(graph),
            f"{PREFIX}grange-version": __version__,
            f"{PREFIX}production": _flag(settings.production),
            f"{PREFIX}auto-emit-events": _flag(settings.auto_emit_events),
        }
    )
    if settings.tags:
        out[f"{PREFIX}tags"] = json.dumps(sorted(settings.tags))
    if settings.package is not None:
        out[f"{PREFIX}code-package"] = json.dumps(
            settings.package.to_dict(), sort_keys=True, separators=(",", ":")
        )
    for field, value in (settings.project or {}).items():
        out[f"{PREFIX}{field.replace('_', '-')}"] = _text(value)
    if graph.doc:
        doc = graph.doc.strip()
        out["workflows.argoproj.io/title"] = doc.splitlines()[0][:200]
        out["workflows.argoproj.io/description"] = doc[:2000]
    return out


def workflow_metadata(name: str, settings: ArgoSettings, flow_name: str) -> m.WorkflowMetadata:
    """Every run (Workflow) of the template carries these: its run id, owner and flow
    (``argo-workflows status RUN`` refuses a run of another flow)."""
    return m.WorkflowMetadata(
        labels=object_labels(name, settings, "run"),
        annotations={
            f"{PREFIX}run-id": RUN_ID,
            f"{PREFIX}owner": settings.user,
            f"{PREFIX}flow-name": flow_name,
        },
    )


def pod_metadata(name: str, settings: ArgoSettings) -> m.Metadata:
    return m.Metadata(
        labels=object_labels(name, settings, "task"), annotations={f"{PREFIX}run-id": RUN_ID}
    )


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return _flag(value)
    return "" if value is None else str(value)
