"""Lint: the rules a flow's graph must follow, each error naming step, line and fix.

``lint(graph)`` returns every problem of the first rule group that fails
(later rules assume earlier ones hold, so reporting them too would only add
noise); ``check(graph)`` raises :class:`LintError` when there is any.
Rules are plain functions registered in ``RULES``, in the order they run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from grange.exceptions import LintError, LintProblem
from grange.graph.model import FlowGraph

Rule = Callable[[FlowGraph], Iterable[LintProblem]]
RULES: list[Rule] = []


def rule(func: Rule) -> Rule:
    """Register a lint rule; rules run in the order they are defined."""
    RULES.append(func)
    return func


def lint(graph: FlowGraph) -> list[LintProblem]:
    """The problems of the first failing rule, or an empty list."""
    for check_rule in RULES:
        problems = list(check_rule(graph))
        if problems:
            return problems
    return []


def check(graph: FlowGraph) -> None:
    """Raise :class:`LintError` if the graph breaks any rule."""
    problems = lint(graph)
    if problems:
        raise LintError(problems)


@rule
def definition_problems(graph: FlowGraph) -> Iterable[LintProblem]:
    """Problems noticed while reading the class (decorator misuse, no source)."""
    for rule_name, message, file, line, step, fix in graph.definition_problems:
        yield LintProblem(rule_name, message, file, line, step, fix)
