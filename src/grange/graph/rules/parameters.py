"""Rules about the flow's parameters: unique, unreserved, valid, not named like a step."""

from __future__ import annotations

import os
from collections.abc import Iterator

from grange.exceptions import LintProblem
from grange.graph.model import FlowGraph, ParameterInfo
from grange.graph.rules.steps import FLOW_ATTRIBUTES
from grange.parameters import RESERVED_PARAMETER_NAMES, normalized_name


def _at_parameter(
    rule: str,
    graph: FlowGraph,
    param: ParameterInfo,
    message: str,
    fix: str,
    step: str | None = None,
) -> LintProblem:
    """A problem located at the ``x = Parameter(...)`` line (the class line if unknown)."""
    file = param.file or graph.file
    line = param.line or graph.line or None
    return LintProblem(rule, message, file, line, step, fix)


def _where(param: ParameterInfo) -> str:
    return f" (line {param.line})" if param.line else ""


def duplicate_parameters(graph: FlowGraph) -> Iterator[LintProblem]:
    """(duplicate-parameter) Parameter names are unique, ignoring case and '-' versus '_'."""
    first: dict[str, ParameterInfo] = {}
    for param in graph.parameters:
        key = normalized_name(param.name)
        if key not in first:
            first[key] = param
            continue
        earlier = first[key]
        yield _at_parameter(
            "duplicate-parameter",
            graph,
            param,
            f"parameter '{param.name}' has the same name as parameter '{earlier.name}'"
            f"{_where(earlier)}; both would be the option --{key.replace('_', '-')}",
            "rename or remove one of them (parameter names ignore case, and '-' and '_' "
            "count as the same)",
        )


def reserved_parameters(graph: FlowGraph) -> Iterator[LintProblem]:
    """(reserved-parameter) A parameter takes no name or attribute that grange uses."""
    for param in graph.parameters:
        if normalized_name(param.name) in RESERVED_PARAMETER_NAMES:
            message = (
                f"parameter '{param.name}' has a reserved name: grange uses it for its own "
                "command-line options or run values"
            )
            fix = f"choose another name, e.g. Parameter('{param.name}_value', ...)"
        elif param.attribute in FLOW_ATTRIBUTES:
            message = (
                f"parameter attribute '{param.attribute}' is reserved: every flow already has "
                f"self.{param.attribute}, and the parameter would hide it"
            )
            fix = f"rename the attribute, e.g. {param.attribute}_value = Parameter(...)"
        else:
            continue
        yield _at_parameter("reserved-parameter", graph, param, message, fix)


def invalid_parameters(graph: FlowGraph) -> Iterator[LintProblem]:
    """(invalid-parameter) Each ``Parameter(...)`` definition is usable."""
    for param in graph.parameters:
        for problem in param.definition_problems:
            yield _at_parameter(
                "invalid-parameter",
                graph,
                param,
                problem,
                f"correct the definition {param.attribute} = Parameter(...){_where(param)}: "
                "a name starts with a letter and has only letters, digits, '_' and '-'; "
                "separator= needs type=str; a default must be a value of the type",
            )


def parameter_step_clashes(graph: FlowGraph) -> Iterator[LintProblem]:
    """(parameter-step-clash) No parameter attribute has the name of a step."""
    for param in graph.parameters:
        if param.attribute in graph.nodes:
            step = graph[param.attribute]
            where = f"line {step.line}"
            if step.file != param.file:
                where += f" of {os.path.basename(step.file)}"
            yield _at_parameter(
                "parameter-step-clash",
                graph,
                param,
                f"parameter attribute '{param.attribute}' is also the name of step "
                f"'{step.name}' ({where}); self.{step.name} cannot be both",
                f"rename the parameter's attribute, e.g. {param.attribute}_value = "
                "Parameter(...); the name given to Parameter (the command-line option) "
                "can stay as it is",
                step=step.name,
            )
