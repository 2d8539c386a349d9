"""A small fake Kubernetes API server on loopback, for tests only (no cluster is needed).

``FakeKube(workdir).start()`` serves, on ``http://127.0.0.1:<port>``, what grange
uses of a cluster, answering as a real API server does:

- core v1 ``pods``: list (``labelSelector``), get, delete, and ``log`` (``follow=true``
  streams until the container ends);
- batch v1 ``jobs``: create (``generateName``), get, list, replace, patch, delete
  (``propagationPolicy``; batch/v1's default is Orphan, as on a real server);
- argoproj.io v1alpha1 ``workflows``, ``workflowtemplates``, ``cronworkflows`` and
  ``sensors`` (and ``eventsources``): get, list, create, replace (a stale or missing ``resourceVersion``:
  409 Conflict / 422 Invalid), merge-patch and JSON-patch, delete.

Objects get ``uid``, ``creationTimestamp``, ``resourceVersion`` and a name from
``generateName``; errors are ``Status`` objects (404 NotFound, 409 AlreadyExists /
Conflict, 422 Invalid). Bodies are validated: Jobs and Pods with
``kubernetes-validate`` in strict mode (unknown fields are errors), Argo kinds with
``tests/argo_schema.py`` (strict, no nulls); an invalid one is a 422 naming the field.

A fake job controller and kubelet (:mod:`kubefake.kubelet`) run each Job's pod on
this host as a subprocess, so pod phases, exit codes and logs are real. Knobs:
``unpullable`` (images that end in ``ImagePullBackOff``), ``node_labels`` (a
``nodeSelector`` they do not satisfy is ``Unschedulable``), ``secrets`` (name ->
environment, for ``envFrom``), ``node_env`` (extra environment of every container,
e.g. ``PYTHONPATH`` so that the host's grange is "in the image"), ``faults``
(requests to fail once with a given HTTP code). It records
``requests`` (method, path) and ``deleted_jobs`` (namespace, name, propagation).

``write_kubeconfig(path)`` writes a kubeconfig whose current context points at it;
the ``kube`` fixture (tests/conftest.py) starts one per test and sets ``KUBECONFIG``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from kubefake.kubelet import Kubelet
from kubefake.server import FakeServer
from kubefake.store import KINDS, Store

__all__ = ["FakeKube"]


class FakeKube:
    """The fake API server with its kubelet (see the module docstring)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.store = Store()
        self.kubelet = Kubelet(self, self.store, self.workdir)
        self.unpullable: set[str] = set()
        self.node_labels: dict[str, str] = {
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
        }
        self.secrets: dict[str, dict[str, str]] = {}
        self.node_env: dict[str, str] = {}
        if os.environ.get("PYTHONPATH"):
            self.node_env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        self.requests: list[tuple[str, str]] = []
        # (method, path substring, HTTP code): the next matching request fails so, once
        self.faults: list[tuple[str, str, int]] = []
        self.deleted_jobs: list[tuple[str, str, str]] = []
        self._server: FakeServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeKube:
        self._server = FakeServer(self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Kill the containers, then stop serving; no thread or process is left."""
        self.kubelet.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        path.write_text(
            "apiVersion: v1\n"
            "kind: Config\n"
            "clusters:\n"
            f"- name: fake\n  cluster:\n    server: {self.url}\n"
            "users:\n"
            "- name: fake\n  user:\n    token: fake-token\n"
            "contexts:\n"
            f"- name: fake\n  context:\n    cluster: fake\n    user: fake\n"
            f"    namespace: {namespace}\n"
            "current-context: fake\n"
        )
        return path

    # -- what tests look at -----------------------------------------------------------

    def objects(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """The stored objects of a kind (e.g. ``"jobs"``), oldest name first."""
        items: list[dict[str, Any]] = self.store.list(KINDS[plural], namespace)["items"]
        return items
