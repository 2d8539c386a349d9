"""The compiled documents of one deployment: :class:`Manifests`.

Serialised from hera's typed models with the API's field names (aliases),
without a single ``null``. ``cron_workflow`` (``@schedule``) and ``sensors``
(``@trigger``, ``@trigger_on_finish``) come with the events work; they are part
of the type now so that ``documents()``, ``--only-yaml``, create and delete
handle every object of a deployment the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

API_VERSION = "argoproj.io/v1alpha1"


def to_dict(model: Any) -> dict[str, Any]:
    """A hera model as the API's JSON: aliases, no None (hence no null anywhere)."""
    data: dict[str, Any] = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    return data


@dataclass
class Manifests:
    """Everything ``argo-workflows create`` submits, as plain JSON-ready dicts."""

    workflow_template: dict[str, Any]
    cron_workflow: dict[str, Any] | None = None
    sensors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.workflow_template["metadata"]["name"])

    def documents(self) -> list[dict[str, Any]]:
        """Every object, in the order they are created (the template first)."""
        docs = [self.workflow_template]
        if self.cron_workflow is not None:
            docs.append(self.cron_workflow)
        return docs + list(self.sensors)

    def to_json(self) -> str:
        docs = self.documents()
        return json.dumps(docs[0] if len(docs) == 1 else docs, indent=2) + "\n"

    def to_yaml(self) -> str:
        import yaml  # type: ignore[import-untyped]  # (a dependency of kubernetes)

        return yaml.safe_dump_all(
            self.documents(), sort_keys=False, default_flow_style=False, width=100
        )

    def size(self) -> int:
        """Bytes of the WorkflowTemplate as the API server stores it (compact JSON)."""
        return len(json.dumps(self.workflow_template, separators=(",", ":")).encode())
