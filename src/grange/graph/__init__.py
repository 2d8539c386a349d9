"""The static graph of a flow, read from its source without running user code.

``FlowGraph.from_flow_class(cls)`` builds it; ``lint(graph)`` checks it;
``render`` draws it as text, Mermaid, DOT or JSON. The runtime, the CLI,
cards, the UI and the Argo compiler all read this one model.
"""

from grange.graph.model import DecoratorInfo, FlowGraph, NodeType, ParameterInfo, StepNode


def graph_of(flow_cls: type) -> FlowGraph:
    """The graph of a flow class, read from its source once and cached on the class (its
    configs bound first, with their defaults, if nothing bound them)."""
    cached = flow_cls.__dict__.get("_grange_graph")
    if cached is None:
        if "_grange_config_values" not in flow_cls.__dict__:
            # Configs not bound yet (the command line binds them first): their defaults,
            # never the graph of decorators still waiting for config values.
            from grange.graph.configs import bind_configs

            bind_configs(flow_cls)
        cached = FlowGraph.from_flow_class(flow_cls)
        type.__setattr__(flow_cls, "_grange_graph", cached)
    return cached


__all__ = ["DecoratorInfo", "FlowGraph", "NodeType", "ParameterInfo", "StepNode", "graph_of"]
