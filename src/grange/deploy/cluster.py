"""Argo's objects on a cluster, through the official Kubernetes client: :class:`ArgoCluster`.

Every call goes through ``CustomObjectsApi`` (no argo-server, no ``kubectl``),
as Metaflow's deployer does. A template is *created or replaced*: a GET gives
the current ``resourceVersion`` and the PUT carries it, so a concurrent change
is a conflict the user hears about rather than a silent overwrite.

What the API server answers is translated: an unreachable server names the
kubeconfig context; 401/403 name the verb, the kind and the namespace (the RBAC
rule that is missing); a 404 on the kind itself says Argo is not installed; a
422 repeats the server's reason. No traceback of the client's leaks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from grange.compute.kubernetes.api import load_client
from grange.exceptions import KubernetesError

GROUP = "argoproj.io"
VERSION = "v1alpha1"
# kind -> (plural, what installs it)
KINDS: dict[str, tuple[str, str]] = {
    "WorkflowTemplate": ("workflowtemplates", "Argo Workflows"),
    "Workflow": ("workflows", "Argo Workflows"),
    "CronWorkflow": ("cronworkflows", "Argo Workflows"),
    "Sensor": ("sensors", "Argo Events"),
    "EventSource": ("eventsources", "Argo Events"),
}


@dataclass(frozen=True)
class ClusterSettings:
    """Where the deployment goes: the namespace, and the profile's ``[kubernetes]``
    table for reaching the cluster (``kubeconfig``, ``context``, ``in_cluster``: see
    :func:`grange.compute.kubernetes.api.load_client`)."""

    namespace: str = "default"
    kubernetes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_profile(
        cls, kubernetes: Mapping[str, Any], argo: Mapping[str, Any], namespace: str | None = None
    ) -> ClusterSettings:
        return cls(
            namespace=str(
                namespace
                or argo.get("namespace")
                or kubernetes.get("namespace")
                or os.environ.get("GRANGE_KUBERNETES_NAMESPACE")
                or "default"
            ),
            kubernetes=dict(kubernetes),
        )


class ArgoCluster:
    """Create, read, replace, patch and delete Argo objects in one namespace."""

    def __init__(self, settings: ClusterSettings, client: Any = None) -> None:
        from kubernetes import client as k8s

        self.settings = settings
        self.namespace = settings.namespace
        self._api_client = client or load_client(settings.kubernetes)
        self._api = k8s.CustomObjectsApi(self._api_client)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """The object, or None if there is none of that name."""
        try:
            return self._call(
                "get",
                kind,
                name,
                lambda p: self._api.get_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, p, name
                ),
            )
        except _NotFound:
            return None

    def list(self, kind: str, label_selector: str | None = None) -> list[dict[str, Any]]:
        answer = self._call(
            "list",
            kind,
            None,
            lambda p: self._api.list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, p, label_selector=label_selector or ""
            ),
        )
        return list(answer.get("items") or [])

    def create(self, doc: dict[str, Any]) -> dict[str, Any]:
        """POST ``doc`` (a ``generateName`` gets its name from the server)."""
        return self._call(
            "create",
            doc["kind"],
            _name(doc),
            lambda p: self._api.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, p, doc
            ),
        )

    def apply(self, doc: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create ``doc``, or replace the object of its name (carrying its
        ``resourceVersion``). Returns the stored object and whether it existed."""
        name = doc["metadata"]["name"]
        current = self.get(doc["kind"], name)
        if current is None:
            return self.create(doc), False
        body = json.loads(json.dumps(doc))
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        stored = self._call(
            "replace",
            doc["kind"],
            name,
            lambda p: self._api.replace_namespaced_custom_object(
                GROUP, VERSION, self.namespace, p, name, body
            ),
        )
        return stored, True

    def patch(self, kind: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch (``spec.suspend``, ``spec.shutdown``)."""
        return self._call("patch", kind, name, lambda p: self._api.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, p, name, patch,
            _content_type="application/merge-patch+json",
        ))  # fmt: skip

    def delete(self, kind: str, name: str) -> bool:
        """Delete the object; False if there was none."""
        try:
            self._call(
                "delete",
                kind,
                name,
                lambda p: self._api.delete_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, p, name
                ),
            )
        except _NotFound:
            return False
        return True

    def _call(self, verb: str, kind: str, name: str | None, call: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        plural, installer = KINDS[kind]
        try:
            return call(plural)
        except ApiException as err:
            raise _translate(err, verb, kind, plural, installer, name, self.namespace) from None
        except (HTTPError, OSError) as err:
            host = getattr(self._api_client.configuration, "host", "?")
            raise KubernetesError(
                f"cannot reach the Kubernetes API server at {host} ({type(err).__name__})",
                fix="check the cluster is up and that KUBECONFIG / [kubernetes] context points "
                "at it (`kubectl get ns` with the same settings)",
            ) from None


class _NotFound(Exception):
    pass


def _translate(
    err: Any, verb: str, kind: str, plural: str, installer: str, name: str | None, ns: str
) -> Exception:
    reason = _reason(err)
    what = f"{kind} {name!r}" if name else f"{kind}s"
    if err.status == 404:
        if name and "the server could not find the requested resource" not in reason:
            return _NotFound()
        return KubernetesError(
            f"the cluster does not know {plural}.{GROUP}: {installer} is not installed "
            f"(or not in this API server)",
            fix=f"install {installer} on the cluster (see docs/production.md)",
        )
    if err.status in (401, 403):
        return KubernetesError(
            f"not allowed to {verb} {what} in namespace {ns!r}: {reason}",
            fix=f"grant your user or service account '{verb}' on {plural}.{GROUP} in "
            f"namespace {ns!r} (a Role and RoleBinding; see docs/production.md)",
        )
    if err.status == 409:
        return KubernetesError(
            f"{what} changed on the cluster while it was being replaced: {reason}",
            fix="run the command again",
        )
    if err.status == 422:
        return KubernetesError(f"the API server refused {what}: {reason}", fix=None)
    return KubernetesError(
        f"{verb} {what} in namespace {ns!r} failed (HTTP {err.status}): {reason}"
    )


def _reason(err: Any) -> str:
    try:
        body = json.loads(err.body or "{}")
        return str(body.get("message") or err.reason)
    except (TypeError, ValueError):
        return str(err.reason)


def _name(doc: dict[str, Any]) -> str | None:
    meta = doc.get("metadata") or {}
    return meta.get("name") or meta.get("generateName")
