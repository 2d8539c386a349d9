"""``kubernetes``: secrets mounted into the task's pod as files.

A Kubernetes Secret mounted as a volume is a directory with one file per key.
``kubernetes.db`` reads the directory ``<root>/db``: each file is a variable
named after it (sanitized as any key), its content the value. The root is
``options["dir"]``, else ``$GRANGE_KUBERNETES_SECRETS_DIR``, else
``/var/run/secrets/grange``. Kubernetes' own bookkeeping entries (names starting
with ``.``) are skipped.

The Kubernetes compute layer (``grange.compute.kubernetes.pod.plan_pod``, used by
``@kubernetes`` Jobs and the Argo compiler) mounts a volume per source in the
pod (``secret: {secretName: <id>}``, read-only at ``/var/run/secrets/grange/<id>``);
whether the pod may read the Secret is the cluster's RBAC to decide.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grange.secret_sources.providers.base import Provider, ProviderError

DIR_ENV = "GRANGE_KUBERNETES_SECRETS_DIR"
DEFAULT_DIR = "/var/run/secrets/grange"


class KubernetesProvider(Provider):
    type = "kubernetes"
    options = ("dir",)

    def fetch(
        self, secret_id: str, *, options: Mapping[str, Any], role: str | None
    ) -> Mapping[str, object]:
        self.check_options(options)
        if "/" in secret_id or secret_id in (".", ".."):
            raise ProviderError(
                f"'{secret_id}' is not a Kubernetes Secret name",
                "name the Secret (lower case letters, digits, - and .)",
            )
        root = Path(str(options.get("dir") or os.environ.get(DIR_ENV) or DEFAULT_DIR))
        folder = root / secret_id
        if not folder.is_dir():
            raise ProviderError(
                f"the Kubernetes Secret '{secret_id}' is not mounted at {folder}",
                "run the step on Kubernetes (which mounts the secrets @secrets names), "
                f"mount it there yourself, or set ${DIR_ENV}",
            )
        out: dict[str, object] = {}
        try:
            for entry in sorted(folder.iterdir()):
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                out[entry.name] = entry.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ProviderError(
                f"a key of the Kubernetes Secret '{secret_id}' is not UTF-8 text",
                "store binary values base64-encoded",
            ) from None
        except OSError as err:
            raise ProviderError(
                f"the Kubernetes Secret '{secret_id}' at {folder} cannot be read ({err.strerror})"
            ) from None
        return out
