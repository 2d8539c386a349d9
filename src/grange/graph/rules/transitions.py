"""Rules about each step's ``self.next(...)``: present, last, readable, to real steps."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from grange.exceptions import LintProblem
from grange.graph.model import FlowGraph, NodeType, StepNode
from grange.graph.rules import at_next, at_step

FORMS = (
    "write one of: self.next(self.a) | self.next(self.a, self.b) | "
    "self.next(self.a, foreach='items') | self.next(self.a, num_parallel=4) | "
    "self.next({'x': self.a, 'y': self.b}, condition='attr')"
)

_BLOCK_WORDS = {
    "if": "an if statement",
    "for": "a for loop",
    "while": "a while loop",
    "try": "a try block",
    "with": "a with block",
    "match": "a match statement",
    "expression": "another statement",
}


def missing_next(graph: FlowGraph) -> Iterator[LintProblem]:
    """(missing-next) Every step but the end ends with ``self.next(...)`` as its last statement."""
    for node in graph.nodes.values():
        if node.type is NodeType.END:
            continue
        if not node.has_next:
            yield at_step(
                "missing-next",
                node,
                f"step '{node.name}' does not end with self.next(...), so no step runs after it",
                f"add self.next(self.<step>) as the last statement of '{node.name}', naming "
                "the step that runs next (self.next(self.end) if it is the last one)",
            )
        elif node.misplaced_next:
            yield _misplaced_next(node, node.misplaced_next)


def _misplaced_next(node: StepNode, where: str) -> LintProblem:
    name = node.name
    if where == "twice":
        lines = ", ".join(map(str, node.next_lines[:-1])) + f" and {node.next_lines[-1]}"
        times = "twice" if len(node.next_lines) == 2 else f"{len(node.next_lines)} times"
        message = (
            f"step '{name}' calls self.next() {times} (lines {lines}); "
            "a step calls it exactly once, as its last statement"
        )
        fix = (
            f"keep one self.next(...) at the end of '{name}': to run several steps after "
            "it, name them all in one call, e.g. self.next(self.a, self.b); to choose one "
            "at run time, use a switch: self.next({'a': self.a, 'b': self.b}, "
            "condition='attr')"
        )
    elif where == "early":
        message = f"step '{name}' has more code after its self.next() call"
        fix = f"move self.next(...) to the end of '{name}', after the rest of its code"
    elif where == "if":
        message = (
            f"step '{name}' calls self.next() inside an if statement, so the next step "
            "cannot be known before the run; self.next() must be the last statement"
        )
        fix = (
            "to choose the next step at run time, use a switch as the last statement: set "
            "an attribute in the if/else (e.g. self.route = 'a') and end the step with "
            "self.next({'a': self.step_a, 'b': self.step_b}, condition='route')"
        )
    else:
        block = _BLOCK_WORDS.get(where, "a block")
        message = (
            f"step '{name}' calls self.next() inside {block}; self.next() must be the "
            "last statement of the step, outside any block"
        )
        fix = f"move self.next(...) out of {block}, to the end of '{name}'"
    return at_next("missing-next", node, message, fix)


def invalid_next(graph: FlowGraph) -> Iterator[LintProblem]:
    """(invalid-next) Each ``self.next(...)`` has a form that the graph can be read from."""
    for node in graph.nodes.values():
        if node.transition_problem and not node.misplaced_next and node.type is not NodeType.END:
            yield at_next(
                "invalid-next",
                node,
                f"step '{node.name}' has a self.next() call that grange cannot read: "
                f"{node.transition_problem}",
                FORMS,
            )


def unknown_steps(graph: FlowGraph) -> Iterator[LintProblem]:
    """(unknown-step) Every step named in ``self.next(...)`` is a step of the flow."""
    for node in graph.nodes.values():
        for target in dict.fromkeys(node.out_funcs):
            if target not in graph.nodes:
                yield _unknown_step(graph, node, target)


def _unknown_step(graph: FlowGraph, node: StepNode, target: str) -> LintProblem:
    param = next((p for p in graph.parameters if p.attribute == target), None)
    if param is not None:
        where = f" (line {param.line})" if param.line else ""
        return at_next(
            "parameter-step-clash",
            node,
            f"step '{node.name}' goes to '{target}', which is a parameter of this flow{where}, "
            "not a step; the parameter hides a step of the same name",
            f"rename the parameter's attribute, e.g. {target}_value = Parameter(...): a "
            "parameter and a step cannot share a name",
        )
    message = f"step '{node.name}' goes to '{target}', which is not a step of this flow"
    if target in graph.other_methods:
        fix = f"'{target}' is a method without @step: add @step directly above 'def {target}'"
    else:
        steps = list(graph.nodes)
        close = difflib.get_close_matches(target, steps, n=1)
        if close:
            fix = f"did you mean '{close[0]}'? write self.{close[0]} instead of self.{target}"
        else:
            fix = f"go to one of the flow's steps ({', '.join(steps)}), or add a step '{target}'"
    return at_next("unknown-step", node, message, fix)


def switch_shapes(graph: FlowGraph) -> Iterator[LintProblem]:
    """(switch-shape) A switch has a condition and at least two different target steps."""
    for node in graph.nodes.values():
        if node.type is NodeType.END or node.transition_problem:
            continue
        if node.is_switch or (node.has_next and not node.out_funcs):
            problem = _switch_problem(node)
            if problem is not None:
                yield problem


def _switch_problem(node: StepNode) -> LintProblem | None:
    name = node.name
    if not node.switch_cases:
        message = f"step '{name}' passes self.next() a dict with no cases"
        fix = (
            "give at least two cases, each a value of the condition and a step: "
            "self.next({'a': self.step_a, 'b': self.step_b}, condition='attr')"
        )
    elif node.switch_condition is None:
        message = (
            f"step '{name}' passes self.next() a dict of cases but no condition=, so "
            "nothing says which case runs"
        )
        fix = (
            "name the attribute whose value picks the case, e.g. "
            "self.next({'a': self.step_a, 'b': self.step_b}, condition='route')"
        )
    elif len(node.out_funcs) < 2:
        only = node.out_funcs[0]
        message = (
            f"switch step '{name}' goes to '{only}' whatever the value of "
            f"'{node.switch_condition}'; a switch needs at least two different steps"
        )
        fix = f"go there directly with self.next(self.{only}), or add a case for another step"
    else:
        return None
    return at_next("switch-shape", node, message, fix)
