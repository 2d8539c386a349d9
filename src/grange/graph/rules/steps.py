"""Rules about the steps themselves: names, the start and end steps, arguments."""

from __future__ import annotations

import re
from collections.abc import Iterator

from grange.exceptions import LintProblem
from grange.graph.model import FlowGraph, StepNode
from grange.graph.rules import at_next, at_step, quoted
from grange.graph.rules.names import MAX_NAME_BYTES, length_rule, shown, too_long

# Names every flow object already has (FlowSpec's public attributes and the
# values a running step reads from self); a step or parameter of that name
# would hide them. A unit test keeps this in step with dir(FlowSpec).
FLOW_ATTRIBUTES = frozenset(
    {
        "cmd", "foreach_stack", "graph", "index", "input", "merge_artifacts", "name",
        "next", "script_name",
    }
)  # fmt: skip

_VALID_STEP_NAME = re.compile(r"[a-z0-9][a-z0-9_]*")


def reserved_step_names(graph: FlowGraph) -> Iterator[LintProblem]:
    """(reserved-step-name) A step may not take a name every flow already uses."""
    for node in graph.nodes.values():
        if node.name in FLOW_ATTRIBUTES:
            yield at_step(
                "reserved-step-name",
                node,
                f"step '{node.name}' has a reserved name: every flow already has "
                f"self.{node.name}, and the step would hide it",
                f"rename the step, e.g. '{node.name}_step', and update the self.next(...) "
                "calls that go to it",
            )


def step_names(graph: FlowGraph) -> Iterator[LintProblem]:
    """(step-name) Step names use lowercase ASCII letters, digits and '_', not first '_',
    and have at most 128 characters."""
    for node in graph.nodes.values():
        if too_long(node.name):
            yield at_step(
                "step-name",
                node,
                f"step {shown(node.name)} has a name too long to store: " + length_rule("step"),
                f"rename the step to a shorter name (at most {MAX_NAME_BYTES} characters), "
                "and update the self.next(...) calls that go to it",
            )
        elif not _VALID_STEP_NAME.fullmatch(node.name):
            yield at_step(
                "step-name",
                node,
                f"step '{node.name}' has an invalid name: step names use only lowercase "
                "ASCII letters, digits and '_', and do not start with '_'",
                f"rename the step, e.g. '{suggest_step_name(node.name)}', and update the "
                "self.next(...) calls that go to it",
            )


def suggest_step_name(name: str) -> str:
    """A valid step name close to ``name``: ``TrainModel`` -> ``train_model``."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
    return re.sub(r"[^a-z0-9_]+", "_", snake).strip("_") or "my_step"


def start_and_end_exist(graph: FlowGraph) -> Iterator[LintProblem]:
    """(missing-start, missing-end) A flow has a step named 'start' and one named 'end'."""
    for name, role, how in (
        (graph.start, "begins", "a first step: @step, def start(self): ..., ending with "
         "self.next(self.<next step>)"),
        (graph.end, "finishes", "a last step: @step, def end(self): ... (with no "
         "self.next), and end the step before it with self.next(self.end)"),
    ):  # fmt: skip
        if name in graph.nodes:
            continue
        if name in graph.other_methods:
            message = f"'{name}' is a method of flow {graph.name} but has no @step"
            fix = f"add @step directly above 'def {name}(self)'"
        else:
            message = f"flow {graph.name} has no '{name}' step; every flow {role} at '{name}'"
            fix = f"add {how}"
        yield LintProblem(f"missing-{name}", message, graph.file, graph.line or None, None, fix)


def start_and_end_shape(graph: FlowGraph) -> Iterator[LintProblem]:
    """(start-has-inputs, end-has-next, end-is-join, start-is-join)."""
    start, end = graph[graph.start], graph[graph.end]
    for name in dict.fromkeys(start.in_funcs):
        yield at_next(
            "start-has-inputs",
            graph[name],
            f"step '{name}' goes to the start step; nothing may go back to 'start', "
            "where a run begins",
            f"make '{name}' go to another step; to repeat '{name}', make it a switch that "
            f"goes back to itself: self.next({{'again': self.{name}, 'done': self.<next "
            "step>}, condition='attr')",
        )
    if end.has_next:
        yield at_next(
            "end-has-next",
            end,
            f"the end step calls self.next() (line {end.next_line}), but a run finishes at "
            "'end' and nothing can follow it",
            "remove the self.next(...) call from 'end'; do any further work in a step before 'end'",
        )
    for node, role in ((end, "end"), (start, "start")):
        if node.num_args == 2:
            yield _join_problem(node, role)


def _join_problem(node: StepNode, role: str) -> LintProblem:
    if role == "end":
        message = (
            "the end step takes 'inputs', which makes it a join; the end step cannot be a join"
        )
        fix = (
            "add a join step before it (def join(self, inputs): ... self.next(self.end)) "
            "and define 'end' as def end(self)"
        )
    else:
        message = (
            "the start step takes 'inputs', which makes it a join, but no step comes before 'start'"
        )
        fix = "define it as def start(self)"
    return at_step(f"{role}-is-join", node, message, fix)


def argument_counts(graph: FlowGraph) -> Iterator[LintProblem]:
    """(argument-count) A step takes self, or self and inputs for a join, never both join and split."""
    for node in graph.nodes.values():
        if node.num_args == 0:
            yield at_step(
                "argument-count",
                node,
                f"step '{node.name}' takes no arguments; a step needs 'self'",
                f"define it as def {node.name}(self)",
            )
        elif node.num_args > 2:
            yield at_step(
                "argument-count",
                node,
                f"step '{node.name}' takes {node.num_args} arguments; a step takes only "
                "'self', and a join step 'self' and 'inputs'",
                f"define it as def {node.name}(self), or def {node.name}(self, inputs) for a join",
            )
        elif node.num_args == 2 and _splits(node):
            yield at_step(
                "argument-count",
                node,
                f"step '{node.name}' is both a join (it takes 'inputs') and a {_splits(node)} "
                f"(its self.next goes to {quoted(node.out_funcs) or 'several steps'}); "
                "a step cannot be both",
                f"add a step: let '{node.name}' only join and go on with "
                f"self.next(self.{node.name}_next), and move the self.next(...) of "
                f"'{node.name}' into the new step '{node.name}_next'",
            )


def _splits(node: StepNode) -> str:
    """What kind of split ``node``'s transition is ('' if none)."""
    if node.switch_condition is not None or node.switch_cases:
        return "switch"
    if node.foreach_var is not None:
        return "foreach split"
    if node.num_parallel is not None:
        return "parallel split"
    return "split" if len(node.out_funcs) > 1 else ""
