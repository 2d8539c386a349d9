"""The lint rules, one module per concern; :mod:`grange.graph.lint` runs them in order.

- :mod:`~grange.graph.rules.steps`: names, start and end, arguments of each step;
- :mod:`~grange.graph.rules.transitions`: each step's ``self.next(...)`` call;
- :mod:`~grange.graph.rules.shape`: loops, unreachable steps, splits and joins;
- :mod:`~grange.graph.rules.parameters`: the flow's parameters;
- :mod:`~grange.graph.rules.decorators`: step decorators on steps that refuse them.

A rule takes a :class:`~grange.graph.model.FlowGraph` and yields
:class:`~grange.exceptions.LintProblem`; it may assume that every rule before
it found nothing (the start step exists, every target is a step, ...).
"""

from __future__ import annotations

from grange.exceptions import LintProblem
from grange.graph.model import StepNode


def at_step(rule: str, node: StepNode, message: str, fix: str) -> LintProblem:
    """A problem located at the ``def`` line of ``node``."""
    return LintProblem(rule, message, node.file, node.line, node.name, fix)


def at_next(rule: str, node: StepNode, message: str, fix: str) -> LintProblem:
    """A problem located at the ``self.next(...)`` line of ``node`` (its ``def`` if none)."""
    return LintProblem(rule, message, node.file, node.next_line or node.line, node.name, fix)


def quoted(names: list[str] | tuple[str, ...]) -> str:
    """``'a', 'b' and 'c'``."""
    items = [f"'{n}'" for n in names]
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
