"""One step's pod, as the Kubernetes client's typed models: :func:`plan_pod`.

The same plan is used by the local runtime's ``@kubernetes`` Jobs and by the
Argo compiler (which converts it to Argo's container template): one mapping of
``@kubernetes`` / ``@resources`` to Kubernetes, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from grange.decorators.options import TaskOptions

DEFAULT_IMAGE = "python:3.11"


@dataclass
class PodPlan:
    """What a step's pod is: its one container and the pod-level fields around it."""

    container: Any  # kubernetes.client.V1Container
    volumes: list[Any] = field(default_factory=list)  # V1Volume
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[Any] = field(default_factory=list)  # V1Toleration
    service_account: str | None = None
    namespace: str = "default"
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


def plan_pod(
    step: str,
    options: TaskOptions,
    *,
    command: Sequence[str],
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> PodPlan:
    """The pod of ``step``'s tasks: ``options`` (its decorators), the command to run,
    the environment, and ``defaults`` (the profile's ``[kubernetes]`` section:
    ``image``, ``namespace``, ``service_account``, ...).

    Groundwork: image, command and CPU/memory only; the ``@kubernetes`` work fills
    in the rest (keep this signature).
    """
    from kubernetes import client as k8s

    defaults = dict(defaults or {})
    resources = options.resources
    requests = {
        "cpu": _cpu(resources.cpu if resources else 1),
        "memory": f"{resources.memory if resources else 4096}M",
    }
    container = k8s.V1Container(
        name="main",
        image=str(defaults.get("image") or DEFAULT_IMAGE),
        command=list(command),
        args=list(args) or None,
        env=[k8s.V1EnvVar(name=k, value=v) for k, v in sorted((env or {}).items())] or None,
        resources=k8s.V1ResourceRequirements(requests=requests),
    )
    return PodPlan(container=container, namespace=str(defaults.get("namespace") or "default"))


def _cpu(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
