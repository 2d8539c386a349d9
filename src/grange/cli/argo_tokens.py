"""Production tokens of Argo deployments: who may replace or delete a deployment.

As Metaflow's: ``argo-workflows create`` writes a token into the
WorkflowTemplate's annotations and keeps a copy in ``~/.grange/tokens/`` (or
``$GRANGE_HOME/tokens/``); a later ``create`` or ``delete`` of the same
deployment needs that token (``--authorize TOKEN``), or takes the deployment
over with ``--generate-new-token``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grange.exceptions import CommandError

PREFIX = "grange.dev/"  # as grange.deploy.argo.metadata's
TOKEN_ANNOTATION = PREFIX + "production-token"
OWNER_ANNOTATION = PREFIX + "owner"


def new_token() -> str:
    return "grange-" + secrets.token_hex(8)


class ProductionTokens:
    """The tokens of the deployments in one namespace, as this machine knows them."""

    def __init__(self, namespace: str, say: Callable[[str], None]) -> None:
        self.namespace = namespace
        self.say = say

    def for_create(
        self, existing: dict[str, Any] | None, name: str, options: dict[str, Any]
    ) -> str:
        """The token ``create`` writes: the one given, a new one, or the deployment's own
        (when this machine or ``--authorize`` holds it)."""
        if options.get("given_token"):
            return str(options["given_token"])
        if options.get("generate_new_token") or existing is None:
            return new_token()
        self.check_owner(existing, name, options.get("authorize"))
        return str(existing["metadata"]["annotations"][TOKEN_ANNOTATION])

    def check_owner(self, existing: dict[str, Any], name: str, authorize: str | None) -> None:
        """Refuse to touch a deployment whose token this user does not hold."""
        annotations = existing.get("metadata", {}).get("annotations") or {}
        token = annotations.get(TOKEN_ANNOTATION)
        if token is None:
            raise CommandError(
                f"the WorkflowTemplate {name} in namespace {self.namespace} was not deployed "
                "by grange",
                fix="choose another name with `argo-workflows --name NAME ...`",
            )
        if token in (authorize, self.saved(name)):
            return
        owner = annotations.get(OWNER_ANNOTATION, "someone else")
        raise CommandError(
            f"the deployment {name} belongs to {owner} (another production token)",
            fix=f"ask {owner} for its token and pass --authorize TOKEN, or take the deployment "
            "over with --generate-new-token",
        )

    def file(self, name: str) -> Path:
        home = Path(os.environ.get("GRANGE_HOME") or Path.home() / ".grange")
        return home / "tokens" / f"{self.namespace}.{name}"

    def saved(self, name: str) -> str | None:
        try:
            return self.file(name).read_text().strip() or None
        except OSError:
            return None

    def save(self, name: str, token: str | None) -> None:
        if token is None:
            return
        path = self.file(name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(token + "\n")
            path.chmod(0o600)
        except OSError as err:
            self.say(f"Warning: could not save the production token in {path}: {err}")
