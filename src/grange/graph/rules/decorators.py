"""Rules about decorators: step decorators placed on steps that take them and setting
free attributes; flow decorators accepting the flow they are on."""

from __future__ import annotations

from collections.abc import Iterable

from grange.decorators.environments import KINDS
from grange.decorators.environments import conflicts as environment_conflicts
from grange.decorators.registry import FLOW_DECORATORS, STEP_DECORATORS
from grange.exceptions import LintProblem
from grange.graph.model import DecoratorInfo, FlowGraph
from grange.graph.rules.steps import FLOW_ATTRIBUTES


def decorator_placement(graph: FlowGraph) -> Iterable[LintProblem]:
    """A decorator refuses the step it is on (e.g. @catch on a foreach split)."""
    for node in graph:
        for info in node.decorators:
            cls = STEP_DECORATORS.get(info.name)
            if cls is None:
                continue
            reason = cls(info.attributes).step_init(node=node)
            if reason:
                yield LintProblem(
                    "decorator-placement",
                    reason,
                    node.file,
                    info.line or node.line,
                    node.name,
                    f"remove @{info.name} from '{node.name}', or move the work that may fail "
                    "into a step of its own and decorate that one",
                )


def decorator_siblings(graph: FlowGraph) -> Iterable[LintProblem]:
    """(decorator-conflict) Decorators given several times on a step agree with each
    other (two @card with one id, or two with customize=True, do not)."""
    for node in graph:
        by_name: dict[str, list[DecoratorInfo]] = {}
        for info in node.decorators:
            by_name.setdefault(info.name, []).append(info)
        for name, infos in by_name.items():
            cls = STEP_DECORATORS.get(name)
            if cls is None or not cls.allow_multiple or len(infos) < 2:
                continue
            for position, message, fix in cls.sibling_problems([i.attributes for i in infos]):
                info = infos[position]
                yield LintProblem(
                    "decorator-conflict", message, node.file, info.line or node.line, node.name, fix
                )


def environment_decorators(graph: FlowGraph) -> Iterable[LintProblem]:
    """(decorator-conflict) A step's @pypi/@conda agree with the flow's @pypi_base/
    @conda_base: one kind of environment per step, no package pinned to two versions."""
    base = {
        info.name: info.attributes
        for info in graph.decorators
        if info.name in ("pypi_base", "conda_base")
    }
    for node in graph:
        own = {info.name: info for info in node.decorators if info.name in KINDS}
        if not own and not base:
            continue
        attrs = {name: info.attributes for name, info in own.items()}
        for blame, message, fix in environment_conflicts(attrs, base):
            info = own.get(blame)
            yield LintProblem(
                "decorator-conflict",
                message,
                node.file,
                (info.line if info else None) or node.line,
                node.name,
                fix,
            )


def flow_decorator_checks(graph: FlowGraph) -> Iterable[LintProblem]:
    """(flow-decorator) A flow decorator refuses the flow it is on; @trigger and
    @trigger_on_finish are not both on one flow."""
    names = {info.name: info for info in graph.decorators}
    if "trigger" in names and "trigger_on_finish" in names:
        info = names["trigger_on_finish"]
        yield LintProblem(
            "flow-decorator",
            f"{graph.name} has both @trigger and @trigger_on_finish; a flow is started by "
            "events or by upstream flows' ends, not both",
            info.file or graph.file,
            info.line or graph.line,
            None,
            "keep one of the two: @trigger(events=[...]) may list an upstream flow's end "
            "event 'metaflow.<Flow>.end' next to other events",
        )
    for info in graph.decorators:
        cls = FLOW_DECORATORS.get(info.name)
        if cls is None:
            continue
        reason = cls(info.attributes).flow_check(flow=graph)
        if reason:
            yield LintProblem(
                "flow-decorator",
                reason,
                info.file or graph.file,
                info.line or graph.line,
                None,
                f"change or remove @{info.name} above 'class {graph.name}'",
            )


def decorator_attributes(graph: FlowGraph) -> Iterable[LintProblem]:
    """(decorator-attribute) What a decorator sets on self (``@catch(var=...)``) is
    no parameter, no step and no attribute every flow has."""
    parameters = {p.attribute for p in graph.parameters}
    for node in graph:
        for info in node.decorators:
            cls = STEP_DECORATORS.get(info.name)
            if cls is None:
                continue
            for name in cls(info.attributes).flow_attributes():
                clash = _clash(name, graph, parameters)
                if clash:
                    yield LintProblem(
                        "decorator-attribute",
                        f"@{info.name} stores into self.{name}, which {clash}",
                        node.file,
                        info.line or node.line,
                        node.name,
                        f"choose a name of its own, e.g. @{info.name}(var='{node.name}_failed')",
                    )


def _clash(name: str, graph: FlowGraph, parameters: set[str]) -> str | None:
    """Why setting ``self.<name>`` in a step would hide or replace something (None if free)."""
    if name in parameters:
        return f"is the parameter '{name}': storing there would replace its value"
    if name in graph.config_attributes:
        return f"is the config '{name}': storing there would replace its value"
    if name in graph.nodes:
        return f"is the step '{name}': storing there would hide the step"
    if name in FLOW_ATTRIBUTES:
        return "every flow already has: storing there would hide it"
    if name.startswith("_"):
        return "starts with '_': such names are grange's own"
    return None
