"""Rules about step decorators placed on a step that cannot take them."""

from __future__ import annotations

from collections.abc import Iterable

from grange.decorators.registry import STEP_DECORATORS
from grange.exceptions import LintProblem
from grange.graph.model import FlowGraph


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
