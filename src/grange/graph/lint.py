"""Lint: the rules a flow's graph must follow, each error naming step, line and fix.

``lint(graph)`` returns every problem of the first rule that fails (later
rules assume earlier ones hold, so reporting them too would only add noise);
``check(graph)`` raises :class:`LintError` when there is any. Rules are plain
functions listed in ``RULES``, in the order they run; the rules themselves
live in :mod:`grange.graph.rules`. Each problem's ``rule`` is a stable id:

=====================  ==========================================================
rule id                what it checks
=====================  ==========================================================
(from the parser)      decorator misuse (``flow-decorator`` for one above the
                       class), unreadable source, a parameter replaced by a step
                       in the same class
flow-name              the flow's name fits in a folder name (128 characters)
reserved-step-name     no step named like an attribute every flow has (``next``...)
step-name              lowercase ASCII letters, digits and ``_``; no leading ``_``;
                       at most 128 characters
missing-start/-end     the flow has a ``start`` and an ``end`` step
start-has-inputs       nothing goes to ``start``
end-has-next           ``end`` calls no ``self.next``
end-is-join            ``end`` takes no ``inputs``
start-is-join          ``start`` takes no ``inputs``
argument-count         ``(self)`` or ``(self, inputs)``; a join is not also a split
missing-next           every other step ends with ``self.next(...)``, last
invalid-next           ``self.next(...)`` has a supported, literal form
unknown-step           ``self.next`` goes to steps of the flow (parameter-step-clash
                       when the name is a parameter's)
switch-shape           a switch has cases, a condition and two or more targets
cycle                  no loop but a switch going back to itself
orphan                 every step is reached from ``start``
parallel-target        ``num_parallel=`` goes to a ``@parallel`` step
parallel-caller        a ``@parallel`` step is reached only with ``num_parallel=``
parallel-join          a ``@parallel`` step goes straight to a join
split-join-balance     each split is closed by one join of all its branches
foreach-into-join      a foreach does not go straight to a join
switch-into-join       no switch case goes straight to a join
duplicate-parameter    parameter names are unique (case, ``-``/``_`` ignored)
reserved-parameter     no parameter name or attribute grange uses
invalid-parameter      each ``Parameter(...)`` definition is usable
parameter-step-clash   no parameter attribute is also a step name
decorator-placement    each decorator accepts the step it is on (@catch: no split)
decorator-attribute    ``@catch(var=...)`` names no parameter, step or reserved attribute
decorator-conflict     decorators given several times on a step agree (two ``@card``
                       have different ids, one at most has ``customize=True``);
                       @pypi/@conda (or _base) not both on a step, no package
                       pinned to two versions by @pypi_base and @pypi
flow-decorator         each flow decorator accepts the flow it is on (@trigger and
                       @trigger_on_finish are not combined)
=====================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from grange.exceptions import LintError, LintProblem
from grange.graph.model import FlowGraph
from grange.graph.rules import (
    decorators,
    names,
    parallel,
    parameters,
    shape,
    steps,
    transitions,
)

Rule = Callable[[FlowGraph], Iterable[LintProblem]]


def definition_problems(graph: FlowGraph) -> Iterable[LintProblem]:
    """Problems noticed while reading the class (decorator misuse, no source)."""
    for rule_name, message, file, line, step, fix in graph.definition_problems:
        yield LintProblem(rule_name, message, file, line, step, fix)


RULES: list[Rule] = [
    definition_problems,
    names.flow_name,
    steps.reserved_step_names,
    steps.step_names,
    steps.start_and_end_exist,
    steps.start_and_end_shape,
    steps.argument_counts,
    transitions.missing_next,
    transitions.invalid_next,
    transitions.unknown_steps,
    transitions.switch_shapes,
    shape.cycles,
    shape.orphans,
    parallel.parallel_targets,
    parallel.parallel_callers,
    parallel.parallel_joins,
    shape.split_join_balance,
    shape.foreach_into_join,
    shape.switch_into_join,
    parameters.duplicate_parameters,
    parameters.reserved_parameters,
    parameters.invalid_parameters,
    parameters.parameter_step_clashes,
    decorators.decorator_placement,
    decorators.decorator_attributes,
    decorators.decorator_siblings,
    decorators.environment_decorators,
    decorators.flow_decorator_checks,
]


def rule(func: Rule) -> Rule:
    """Register an extra lint rule; it runs after the rules above, in registration order."""
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
