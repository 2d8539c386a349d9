"""The Kubernetes API client, configured as ``kubectl`` would be, or as the profile says.

Settings (a profile's ``[kubernetes]`` table): ``in_cluster = true`` uses the pod's
service account; else ``kubeconfig`` (a path; default ``$KUBECONFIG``, then
``~/.kube/config``) and ``context`` (default: its current context). Inside a pod
(``KUBERNETES_SERVICE_HOST`` set) with no kubeconfig, the in-cluster configuration
is used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grange.exceptions import KubernetesError

_FIX = (
    "point KUBECONFIG (or the profile's [kubernetes] kubeconfig/context) at your cluster; "
    "check it with: kubectl get pods"
)


def load_client(settings: Mapping[str, Any] | None = None) -> Any:
    """A ``kubernetes.client.ApiClient`` for the cluster the settings name."""
    try:
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException
    except ImportError:
        raise KubernetesError(
            "the Kubernetes client is not installed",
            fix="pip install 'grange[kubernetes]'",
        ) from None
    settings = settings or {}
    path = settings.get("kubeconfig") or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    path = os.path.expanduser(str(path or "~/.kube/config"))
    in_cluster = settings.get("in_cluster")
    if in_cluster is None:
        in_cluster = bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and not Path(path).exists()
    try:
        if in_cluster:
            from kubernetes import client

            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        if not Path(path).exists():
            raise KubernetesError(f"no Kubernetes configuration: {path} does not exist", fix=_FIX)
        return config.new_client_from_config(config_file=path, context=settings.get("context"))
    except ConfigException as err:
        raise KubernetesError(f"cannot use the Kubernetes configuration: {err}", fix=_FIX) from None


def api_error(err: Exception, doing: str) -> KubernetesError:
    """A client exception (``ApiException``, a connection error) as a :class:`KubernetesError`."""
    import json

    status = getattr(err, "status", None)
    body = getattr(err, "body", None)
    message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if body:
        try:
            message = json.loads(body).get("message") or message
        except (ValueError, AttributeError):
            message = str(body)[:500]
    hint = {
        401: "your credentials were refused: refresh them (e.g. log in to the cluster again)",
        403: "your account may not do this: ask for RBAC rights on Jobs and pods "
        "(create, get, list, delete) and pods/log in the namespace",
        404: "check the namespace exists: kubectl get namespace",
    }.get(status or 0, _FIX)
    code = f" (HTTP {status})" if status else ""
    return KubernetesError(f"{doing} failed{code}: {message}", fix=hint)
