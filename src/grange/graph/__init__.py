"""The static graph of a flow, read from its source without running user code.

``FlowGraph.from_flow_class(cls)`` builds it; ``lint(graph)`` checks it;
``render`` draws it as text, Mermaid, DOT or JSON. The runtime, the CLI,
cards, the UI and the Argo compiler all read this one model.
"""

from grange.graph.model import DecoratorInfo, FlowGraph, NodeType, ParameterInfo, StepNode

__all__ = ["DecoratorInfo", "FlowGraph", "NodeType", "ParameterInfo", "StepNode"]
