"""A profile's policy applied to a run before it starts (``run`` and ``resume``).

The rules themselves are :mod:`grange.config.policy`'s; this module finds
what they judge: the datastore root, the run's tags, and each step's
resources as its decorators and ``--with`` set them. Nothing is registered
before these checks pass, so a refused run leaves no trace in the stores.
"""

from __future__ import annotations

from collections.abc import Iterable

from grange.cli.context import FlowContext
from grange.config import Policy, check_datastore_root, check_resources, check_tags


def enforce_run_policy(
    flow: FlowContext, policy: Policy, *, root: str, tags: Iterable[str], decospecs: Iterable[str]
) -> None:
    """Raise :class:`~grange.exceptions.PolicyError` if ``policy`` refuses this run."""
    if policy.is_empty:
        return
    check_datastore_root(policy, root)
    check_tags(policy, tags)
    if policy.max_resources is not None:
        _check_step_resources(flow, policy, tuple(decospecs))


def _check_step_resources(flow: FlowContext, policy: Policy, decospecs: tuple[str, ...]) -> None:
    from grange.graph import lint
    from grange.runtime.run import step_options

    graph = flow.graph()
    lint.check(graph)  # step options of a broken graph would be noise: say what is broken
    options = step_options(flow.flow_cls, graph, decospecs)
    for node in graph:
        resources = options[node.name].resources
        if resources is None:
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
