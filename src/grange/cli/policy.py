"""A profile applied to a run before it starts (``run`` and ``resume``), and passed on
to its tasks.

The rules themselves are :mod:`grange.config.policy`'s (and, for ``@secrets``,
:mod:`grange.secret_sources.policy`'s); this module finds what they judge: the
datastore root, the run's tags, each step's resources as its decorators and
``--with`` set them, and each step's ``@secrets`` sources. Nothing is
registered before these checks pass, so a refused run leaves no trace in the
stores.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from grange.cli.context import FlowContext
from grange.config import (
    DEPLOY_TOKEN_ENV,
    Effective,
    Policy,
    check_datastore_root,
    check_production_deploy,
    check_resources,
    check_tags,
)

if TYPE_CHECKING:
    from grange.secret_sources.policy import SecretsPolicy


def enforce_run_policy(
    flow: FlowContext,
    profile: Effective,
    *,
    root: str,
    tags: Iterable[str],
    decospecs: Iterable[str],
    production: bool = False,
) -> None:
    """Raise :class:`~grange.exceptions.PolicyError` if the profile refuses this run.

    ``production``: the run is on a ``@project``'s production branch. Its runs
    carry ``project_branch:prod`` and are what production's tasks read, so the
    rule that decides who may deploy ``--production`` decides who may run so too
    (under ``production_tokens``, with a machine token in ``$GRANGE_DEPLOY_TOKEN``).
    """
    policy = profile.policy
    if production:
        check_production_deploy(policy, action="run", token=os.environ.get(DEPLOY_TOKEN_ENV))
    secrets = secrets_policy(profile)
    if policy.is_empty and secrets is None:
        return
    check_datastore_root(policy, root)
    check_tags(policy, tags)
    if policy.max_resources is not None or secrets is not None:
        _check_steps(flow, policy, secrets, tuple(decospecs))


def profile_env(profile: Effective) -> dict[str, str]:
    """What the run's tasks need in their environment to work under ``profile``: its
    name and file, its S3 settings and its ``@secrets`` policy (which, being a
    policy, replaces any ``GRANGE_SECRETS_*`` of the shell)."""
    env = profile.child_env()
    secrets = secrets_policy(profile)
    if secrets is not None:
        env.update(secrets.as_env())
    return env


def secrets_policy(profile: Effective) -> SecretsPolicy | None:
    """The profile's ``[secrets]`` table as a :class:`SecretsPolicy` (``None``: no table)."""
    table = profile.secrets.as_dict()
    if not table or profile.profile_name is None:
        return None
    from grange.secret_sources.policy import SecretsPolicy

    return SecretsPolicy.from_profile(profile.profile_name, table)


def _check_steps(
    flow: FlowContext,
    policy: Policy,
    secrets: SecretsPolicy | None,
    decospecs: tuple[str, ...],
) -> None:
    from grange.decorators.registry import parse_decospec, step_decorators
    from grange.graph import lint
    from grange.runtime.run import step_options
    from grange.task.secrets import check_sources

    graph = flow.graph()
    lint.check(graph)  # step options of a broken graph would be noise: say what is broken
    options = step_options(flow.flow_cls, graph, decospecs)
    extra = [parse_decospec(spec) for spec in decospecs]
    for node in graph:
        if secrets is not None:
            written = node.decorator("secrets")
            check_sources(
                step_decorators(getattr(flow.flow_cls, node.name), extra),
                step=node.name,
                policy=secrets,
                file=node.file,
                line=written.line if written is not None else node.line,
            )
        resources = options[node.name].resources
        if resources is None or policy.max_resources is None:
            continue
        written = node.decorator("resources")
        check_resources(
            policy,
            {
                "cpu": resources.cpu,
                "gpu": resources.gpu,
                "memory": resources.memory,
                "disk": resources.disk,
                "shared_memory": resources.shared_memory,
            },
            step=node.name,
            file=node.file,
            line=written.line if written is not None else node.line,
            via="@resources" if written is not None else "--with resources",
        )
