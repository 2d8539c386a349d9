"""The keys of a profile's ``[kubernetes]`` table: each one documented, a misspelt one refused.

The table is kept as written by the configuration loader (other layers read it
too); what a run with Kubernetes steps reads is checked here, so that a
misspelt key never passes silently as "not set".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SETTINGS: dict[str, str] = {
    # defaults of every pod (a step's @kubernetes wins; labels/annotations merge)
    "image": "the container image of pods whose step names none",
    "image_pull_policy": "Always, IfNotPresent or Never",
    "namespace": "the namespace of Jobs and pods (default: 'default')",
    "service_account": "the service account pods run as",
    "secrets": "Secrets every pod gets as environment variables (envFrom)",
    "node_selector": "node labels every pod must match",
    "tolerations": "tolerations of every pod",
    "labels": "labels of every Job and pod",
    "annotations": "annotations of every Job and pod",
    "gpu_vendor": "'nvidia' (default) or 'amd'",
    "qos": "'burstable' (default: requests only) or 'guaranteed' (limits = requests)",
    # the client
    "kubeconfig": "the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)",
    "context": "the kubeconfig context (default: its current one)",
    "in_cluster": "true: use the service account of the pod grange runs in",
    # local runs
    "shared_filesystem": "true: pods see this machine's datastore folder at the same path",
    "startup_allowance": "seconds a pod may take to start its step (default 60)",
    "unschedulable_timeout": "seconds a pod may stay Unschedulable before its task fails "
    "(default 900)",
}


def check_settings(
    settings: Mapping[str, Any], *, known: Mapping[str, str] = SETTINGS, table: str = "kubernetes"
) -> None:
    """Refuse a key of ``[kubernetes]`` (or ``table``) that grange does not know (naming
    the closest)."""
    from grange.config.tables import check_keys

    check_keys(table, settings, known)
