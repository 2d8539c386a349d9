"""A task attempt as a Kubernetes Job, and what a pod's status says about it.

:func:`job_manifest` builds the Job (typed models, serialised as the client
sends them); :func:`pod_outcome` reads a pod's status and says whether the
attempt is still on its way, running, or over — and if it cannot run, why, in
words a user can act on (ImagePullBackOff, a missing Secret, Unschedulable,
OOMKilled, evicted, past its deadline).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grange.compute.kubernetes.pod import PodPlan, k8s_models

LABEL_PREFIX = "grange.dev/"
LAUNCH_LABEL = "grange.dev/launch"  # unique per attempt: finds a Job whose name was not seen
_NOT_LABEL = re.compile(r"[^A-Za-z0-9_.-]+")
_NOT_DNS = re.compile(r"[^a-z0-9-]+")


def label_value(text: str) -> str:
    """``text`` as a valid label value (at most 63 characters, alphanumeric at both ends)."""
    value = _NOT_LABEL.sub("-", text)[:63]
    return value.strip("-_.")


def generate_name(flow: str, step: str) -> str:
    """A Job's ``generateName``: ``<flow>-<step>-`` in DNS characters, short enough
    for the server's 5 random characters and the pods' own suffix."""
    base = _NOT_DNS.sub("-", f"{flow}-{step}".lower()).strip("-")[:40].strip("-")
    return f"{base or 'task'}-"


def job_manifest(
    plan: PodPlan,
    *,
    name: str,
    labels: Mapping[str, str],
    active_deadline_seconds: int | None = None,
) -> dict[str, Any]:
    """The Job running ``plan`` once: no retries of its own (``backoffLimit: 0``: the
    runtime retries), removed 10 minutes after it ends if nobody deleted it."""
    k8s = k8s_models()
    all_labels = {**plan.labels, **{k: label_value(v) for k, v in labels.items()}}
    metadata = k8s.V1ObjectMeta(
        generate_name=name,
        namespace=plan.namespace,
        labels=all_labels,
        annotations=dict(plan.annotations) or None,
    )
    job = k8s.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=metadata,
        spec=k8s.V1JobSpec(
            backoff_limit=0,
            ttl_seconds_after_finished=600,
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(
                    labels=all_labels, annotations=dict(plan.annotations) or None
                ),
                spec=plan.pod_spec(active_deadline_seconds=active_deadline_seconds),
            ),
        ),
    )
    serialised: dict[str, Any] = k8s.ApiClient().sanitize_for_serialization(job)
    return serialised


@dataclass(frozen=True)
class Outcome:
    """Where an attempt's pod is: ``waiting`` (not started yet), ``running``,
    ``ended`` (with ``exit_code``), or ``failed`` (it cannot run: ``message``).
    ``notice``: something to tell the user while waiting (once)."""

    state: str
    exit_code: int | None = None
    message: str | None = None
    notice: str | None = None


_FATAL_WAITING = {
    "ImagePullBackOff": "the image {image!r} cannot be pulled",
    "ErrImagePull": None,  # may be transient: the kubelet retries, then backs off
    "InvalidImageName": "the image name {image!r} is not valid",
    "ErrImageNeverPull": "the image {image!r} is not on the node and imagePullPolicy is Never",
    "CreateContainerConfigError": "the container cannot be configured",
    "CreateContainerError": "the container cannot be created",
}
_FIXES = {
    "ImagePullBackOff": "check the image name and tag, and that the cluster may pull from "
    "its registry (imagePullSecrets); set it with @kubernetes(image=...) or the profile's "
    "[kubernetes] image",
    "InvalidImageName": "fix @kubernetes(image=...) or the profile's [kubernetes] image",
    "ErrImageNeverPull": "use image_pull_policy='IfNotPresent'",
    "CreateContainerConfigError": "create the Secrets named in @kubernetes(secrets=...) in the "
    "namespace (kubectl get secrets)",
    "CreateContainerError": "see: kubectl describe pod",
}


def pod_outcome(pod: Mapping[str, Any]) -> Outcome:
    """What ``pod`` (a serialised V1Pod) says about its attempt."""
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    image = ((spec.get("containers") or [{}])[0]).get("image", "")
    containers = status.get("containerStatuses") or []
    state = (containers[0].get("state") if containers else None) or {}
    phase = status.get("phase") or "Pending"
    if "terminated" in state:
        ended = state["terminated"]
        code = int(ended.get("exitCode", 1))
        reason = ended.get("reason") or ""
        if reason == "OOMKilled":
            limits = ((spec.get("containers") or [{}])[0].get("resources") or {}).get("limits")
            memory = (limits or {}).get("memory") or "its memory"
            return Outcome(
                "ended",
                exit_code=code or 137,
                message=f"the container was killed for using more memory than {memory} "
                "(OOMKilled): ask for more with @resources(memory=...) or "
                "@kubernetes(memory=..., qos='guaranteed')",
            )
        if status.get("reason") == "DeadlineExceeded":
            return Outcome(
                "ended",
                exit_code=code or 1,
                message="the pod ran past its activeDeadlineSeconds and was stopped",
            )
        return Outcome("ended", exit_code=code)
    if phase == "Failed":  # evicted, past its deadline, or lost its node before starting
        reason = status.get("reason") or "Failed"
        text = status.get("message") or "the pod failed"
        what = "the pod was evicted" if reason == "Evicted" else f"the pod failed ({reason})"
        return Outcome("failed", message=f"{what}: {text}")
    if phase == "Succeeded":
        return Outcome("ended", exit_code=0)
    if "running" in state:
        return Outcome("running")
    waiting = state.get("waiting") or {}
    reason = waiting.get("reason") or ""
    template = _FATAL_WAITING.get(reason)
    if template:
        detail = waiting.get("message") or ""
        message = template.format(image=image) + (f": {detail}" if detail else "")
        return Outcome("failed", message=f"{message} ({reason}); fix: {_FIXES[reason]}")
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
        ):
            return Outcome(
                "waiting",
                notice="the pod cannot be scheduled yet (Unschedulable): "
                f"{condition.get('message') or 'no node fits it'}; it waits for a node "
                "(lower @resources/@kubernetes requests or check node_selector/tolerations "
                "if this lasts)",
            )
    return Outcome("waiting")
