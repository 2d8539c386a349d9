"""Each step's :class:`TaskOptions` for a run: its decorators, the run's ``--with`` ones
and the flow's ``@pypi_base``/``@conda_base`` (the step's environment)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from grange.decorators.environments import environment_spec
from grange.decorators.flow import flow_decorators_of
from grange.decorators.options import TaskOptions
from grange.decorators.registry import (
    check_siblings,
    parse_decospec,
    step_decorators,
    task_options,
)
from grange.exceptions import DecoratorError

if TYPE_CHECKING:
    from grange.flowspec import FlowSpec
    from grange.graph import FlowGraph


def step_options(
    flow_cls: type[FlowSpec], graph: FlowGraph, decospecs: tuple[str, ...]
) -> dict[str, TaskOptions]:
    """Each step's TaskOptions from its decorators and the run's ``--with`` ones;
    a ``--with`` decorator a step refuses (``@catch`` on a foreach) is an error."""
    extra = [parse_decospec(spec) for spec in decospecs]
    flow_decorators = flow_decorators_of(flow_cls)
    options = {}
    for node in graph:
        decorators = step_decorators(getattr(flow_cls, node.name), extra)
        check_siblings(decorators, file=node.file, line=node.line, step=node.name)
        for deco in decorators:
            reason = None if deco.statically_defined else deco.step_init(node=node)
            if reason:
                raise DecoratorError(
                    f"--with {deco.name}: {reason}",
                    file=node.file,
                    line=node.line,
                    step=node.name,
                    fix=f"add @{deco.name} to the steps that can take it instead of --with",
                )
        options[node.name] = task_options(decorators)
        written = node.decorator("pypi") or node.decorator("conda")
        options[node.name].environment = environment_spec(
            decorators,
            flow_decorators,
            step=node.name,
            file=node.file,
            line=(written.line if written else None) or node.line,
        )
    return options
