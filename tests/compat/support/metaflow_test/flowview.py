"""The flow object a check iterates: its steps and graph, with Metaflow's node type names.

A generated check receives ``flow`` and reads ``flow.name``, ``for step in
flow: step.name`` and ``flow._graph[name].type``. Metaflow names a foreach
split ``"foreach"`` (a ``num_parallel`` gang too) and a static split ``"split"``;
grange names them ``"split-foreach"``, ``"split-parallel"`` and ``"split-static"``
(the other types agree).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_METAFLOW_TYPES = {"split-foreach": "foreach", "split-parallel": "foreach", "split-static": "split"}


@dataclass(frozen=True)
class NodeView:
    name: str
    type: str
    in_funcs: tuple[str, ...]
    out_funcs: tuple[str, ...]
    parallel_step: bool = False


class FlowView:
    def __init__(self, flow_cls: type) -> None:
        from grange.graph import FlowGraph

        graph = FlowGraph.from_flow_class(flow_cls)
        self.name = flow_cls.__name__
        self._graph = {
            node.name: NodeView(
                node.name,
                _METAFLOW_TYPES.get(node.type.value, node.type.value),
                tuple(node.in_funcs),
                tuple(node.out_funcs),
            )
            for node in graph
        }

    def __iter__(self) -> Iterator[NodeView]:
        return iter(self._graph.values())


def flow_view(flow_cls: type) -> Any:
    return FlowView(flow_cls)


@dataclass(frozen=True)
class ForeachFrame:
    step: str  # the foreach split step
    var: str  # the artifact it iterates over


def foreach_frames(flow: Any) -> list[ForeachFrame]:
    """The enclosing foreach splits of the running step, outermost first.

    What a test reads from Metaflow's private ``self._foreach_stack``; found
    here from the graph and ``current.step_name``.
    """
    from grange import current
    from grange.graph import FlowGraph

    graph = FlowGraph.from_flow_class(type(flow))
    node = graph[current.step_name]
    return [
        ForeachFrame(name, graph[name].foreach_var or "")
        for name in node.split_parents
        if graph[name].type.value in ("split-foreach", "split-parallel")
    ]
