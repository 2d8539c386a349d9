"""Production tokens of Argo deployments: who may replace or delete a deployment.

As Metaflow's: ``argo-workflows create`` writes a token into the
WorkflowTemplate's annotations and keeps a copy in ``~/.grange/tokens/`` (or
``$GRANGE_HOME/tokens/``); a later ``create`` or ``delete`` of the same
deployment needs that token (``--authorize TOKEN``), or takes the deployment
over with ``--generate-new-token``.

On a CI runner ``~/.grange/tokens/`` does not outlive the job. A deploy that
the profile's ``production_tokens`` rule admitted (a machine token in
``$GRANGE_DEPLOY_TOKEN``, see :func:`grange.config.check_production_deploy`)
therefore uses a token *derived* from the machine token and the deployment's
name: every later job that holds the machine token derives it again, and the
annotation never shows the machine token itself. The template records the
machine token's name (``grange.dev/deployed-by``); a deploy admitted by *any*
machine token the rule lists may replace or delete a deployment that a listed
machine token made, so that rotating the token (list ``ci2`` beside ``ci``,
deploy with ``ci2``, then remove ``ci``) never locks CI out.

A deployment also records what it deploys (flow, project and branch): two
names that meet once made Kubernetes names (``pr_12`` and ``pr12`` both give
``...pr12...``: ``_`` is dropped) are refused rather than one overwriting the
other (:meth:`ProductionTokens.check_same`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from grange.config import DEPLOY_TOKEN_ENV
from grange.exceptions import CommandError

PREFIX = "grange.dev/"  # as grange.deploy.argo.metadata's
TOKEN_ANNOTATION = PREFIX + "production-token"
OWNER_ANNOTATION = PREFIX + "owner"
DEPLOYER_ANNOTATION = PREFIX + "deployed-by"  # the machine token's name in the policy
# What a deployment is of, as grange.deploy.argo.metadata writes it.
IDENTITY_ANNOTATIONS = {"flow": "flow-name", "project": "project-name", "branch": "branch-name"}


def new_token() -> str:
    return "grange-" + secrets.token_hex(8)


class ProductionTokens:
    """The tokens of the deployments in one namespace, as this machine knows them."""

    def __init__(
        self,
        namespace: str,
        say: Callable[[str], None],
        machine_token: str | None = None,
        *,
        listed: Iterable[str] = (),
    ) -> None:
        self.namespace = namespace
        self.say = say
        self.machine_token = machine_token or None  # $GRANGE_DEPLOY_TOKEN
        # The names of the machine tokens the profile's production_tokens lists, and the
        # one that admitted this deploy (set once check_production_deploy passed).
        self.listed = frozenset(listed)
        self.admitted: str | None = None

    def for_create(
        self,
        existing: dict[str, Any] | None,
        name: str,
        options: dict[str, Any],
        mine: dict[str, str | None],
    ) -> str:
        """The token ``create`` writes: the one given, a new one (derived from the
        machine token, if any), or the deployment's own (when this machine,
        ``--authorize`` or the machine token holds it). ``mine``: :func:`identity`."""
        self.check_same(existing, name, mine)
        if options.get("given_token"):
            return str(options["given_token"])
        if options.get("generate_new_token") or existing is None:
            return self.derived(name) or new_token()
        if self.machine_may_take_over(existing):  # e.g. a rotated machine token
            return str(self.derived(name))
        self.check_owner(existing, name, options.get("authorize"))
        return str(existing["metadata"]["annotations"][TOKEN_ANNOTATION])

    def machine_may_take_over(self, existing: dict[str, Any]) -> bool:
        """Whether this deploy, admitted by one of the profile's machine tokens, may act
        on ``existing`` as its owner: a machine token the same rule lists deployed it."""
        if self.admitted is None or not self.machine_token:
            return False
        annotations = existing.get("metadata", {}).get("annotations") or {}
        if TOKEN_ANNOTATION not in annotations:
            return False  # not grange's
        return annotations.get(DEPLOYER_ANNOTATION) in self.listed

    def derived(self, name: str) -> str | None:
        """The deployment's token for a holder of the machine token (None without one)."""
        if not self.machine_token:
            return None
        message = f"argo-production-token:{self.namespace}/{name}".encode()
        digest = hmac.new(self.machine_token.strip().encode(), message, hashlib.sha256)
        return "grange-" + digest.hexdigest()[:32]

    @staticmethod
    def annotate(template: dict[str, Any], token: str | None, deployer: str | None) -> None:
        """Write the token (and the machine token's name, if one deployed) on ``template``."""
        annotations = template["metadata"].setdefault("annotations", {})
        annotations[TOKEN_ANNOTATION] = token
        if deployer is not None:
            annotations[DEPLOYER_ANNOTATION] = deployer

    def check_same(
        self, existing: dict[str, Any] | None, name: str, identity: dict[str, str | None]
    ) -> None:
        """Refuse to replace (or act on) a deployment of another flow, project or branch
        that got the same Kubernetes name (``identity``: ``flow``, ``project``, ``branch``
        as the annotations hold them)."""
        if existing is None:
            return
        annotations = existing.get("metadata", {}).get("annotations") or {}
        if PREFIX + "flow-name" not in annotations:
            return  # not grange's: check_owner says so
        found = {
            k: annotations.get(PREFIX + key) or None for k, key in IDENTITY_ANNOTATIONS.items()
        }
        wanted = {k: identity.get(k) or None for k in IDENTITY_ANNOTATIONS}
        if found == wanted:
            return
        raise CommandError(
            f"the WorkflowTemplate {name} in namespace {self.namespace} is the deployment of "
            f"{_describe(found)}, not of {_describe(wanted)}: both names give the same "
            "Kubernetes name (it drops '_' and lowercases), and one would overwrite the other",
            fix="use a branch (or flow) name that differs from the other by more than '_' "
            "and case, e.g. --branch pr-12 rather than pr_12 beside pr12; or delete the other "
            "deployment first (argo-workflows delete with its branch)",
        )

    def check_owner(
        self,
        existing: dict[str, Any],
        name: str,
        authorize: str | None,
        mine: dict[str, str | None] | None = None,
        *,
        verb: str = "create",
    ) -> None:
        """Refuse to touch a deployment whose token this user does not hold (or, given
        ``mine``, that is another flow's or branch's). ``verb``: what was asked, for
        the fix (only ``create`` can take a deployment over)."""
        if mine is not None:
            self.check_same(existing, name, mine)
        annotations = existing.get("metadata", {}).get("annotations") or {}
        token = annotations.get(TOKEN_ANNOTATION)
        if token is None:
            raise CommandError(
                f"the WorkflowTemplate {name} in namespace {self.namespace} was not deployed "
                "by grange",
                fix="choose another name with `argo-workflows --name NAME ...`",
            )
        held = [t for t in (authorize, self.derived(name), self.saved(name)) if t]
        if any(hmac.compare_digest(str(token).encode(), t.encode()) for t in held):
            return
        if self.machine_may_take_over(existing):
            return
        machine = annotations.get(DEPLOYER_ANNOTATION)
        if machine:
            owner = f"the machine token {machine!r} (CI)"
            ask = (
                f"run it where {machine!r} or another machine token of the profile's "
                f"production_tokens is in {DEPLOY_TOKEN_ENV} (CI), or pass --authorize TOKEN "
                "with the deployment's token"
            )
        else:
            user = annotations.get(OWNER_ANNOTATION)
            owner = user or "someone else"
            ask = f"ask {user or 'its owner'} for its token and pass --authorize TOKEN"
        takeover = ", or take the deployment over with --generate-new-token"
        raise CommandError(
            f"the deployment {name} belongs to {owner} (another production token)",
            fix=ask + (takeover if verb == "create" else ""),
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


def identity(flow: str, info: Any) -> dict[str, str | None]:
    """What a deployment of ``flow`` on ``info``'s branch (a ProjectInfo, or None) is of,
    as the template's annotations say it."""
    return {
        "flow": flow,
        "project": info.project_name if info is not None else None,
        "branch": info.branch_name if info is not None else None,
    }


def check_branch_label(info: Any, say: Callable[[str], None]) -> None:
    """The branch name labels the deployment's objects (``grange.dev/branch``), which
    Kubernetes limits to 63 characters: a longer ``--branch`` is refused (its objects
    could not be selected by branch); a user branch, named after the user, is deployed
    without the label, with a warning. ``info``: a ProjectInfo."""
    from grange.deploy.argo.metadata import is_label_value

    branch = info.branch_name
    if is_label_value(branch):
        return
    if not info.is_user_branch:
        kind, _, name = branch.partition(".")
        raise CommandError(
            f"the branch {branch!r} is {len(branch)} characters long: a Kubernetes label "
            "(grange.dev/branch, on the deployment's objects) holds at most 63",
            fix=f"use a --branch name of at most {63 - len(kind) - 1} characters "
            f"(this one has {len(name)})",
        )
    say(
        f"Warning: the branch {branch!r} cannot be a Kubernetes label value (at most 63 "
        "letters, digits, '-', '_', '.'): the deployment's objects carry no "
        "grange.dev/branch label (select them by grange.dev/workflow-template)."
    )


def _describe(identity: dict[str, str | None]) -> str:
    if identity.get("project"):
        return f"{identity['project']}.{identity['branch']}.{identity['flow']}"
    return str(identity.get("flow"))
