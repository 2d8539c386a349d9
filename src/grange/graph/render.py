"""Draw a :class:`FlowGraph` as text, Mermaid, Graphviz DOT or JSON.

Every function here is pure: it takes a graph and returns a string, so the CLI,
cards and the UI can all reuse it. Steps appear in the graph's execution order.

- :func:`render_text`: what ``show`` prints, as Metaflow's ``show`` does: the
  flow's decorators (``@project``) and docstring, then each step with its decorators, docstring and ``=>``
  successors (the foreach variable, the switch condition with each case, and a
  mark on a switch case that loops back to its own step).
- :func:`render_mermaid`: a ``flowchart TD``; start and end are stadiums,
  joins are funnels, a switch is a rhombus; foreach and switch-case edges are
  labelled.
- :func:`render_dot`: Graphviz DOT in the manner of Metaflow's ``output-dot``:
  record nodes naming the step type, switch nodes as hexagons with labelled edges.
- :func:`render_json`: ``graph.to_dict()`` as indented JSON.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator

from grange.graph.model import FlowGraph, NodeType, ParameterInfo, StepNode

INDENT = "    "


def render_text(graph: FlowGraph) -> str:
    """The flow's decorators, docstring, parameters and steps in order, as ``show``
    prints them."""
    lines = [f"@{_decorator_text(d.name, d.attributes)}" for d in graph.decorators]
    lines.append(f"Flow {graph.name}")
    if graph.doc:
        lines += [_indent(graph.doc)]
    lines += [f"{INDENT}{_parameter_text(param)}" for param in graph.parameters]
    reachable = _reachable(graph)
    for node in graph:
        lines.append("")
        lines += [f"@{_decorator_text(d.name, d.attributes)}" for d in node.decorators]
        lines.append(_step_header(graph, node, reachable))
        lines.append(_indent(node.doc or "?"))
        lines += _successor_lines(node)
    return "\n".join(lines) + "\n"


def _parameter_text(param: ParameterInfo) -> str:
    if param.required:
        default = "required"
    elif callable(param.default):
        default = "default computed when the run starts"
    else:
        default = "no default" if param.default is None else f"default {param.default!r}"
    about = f": {param.help}" if param.help else ""
    return f"Parameter {param.name} ({param.type}, {default}){about}"


def _decorator_text(name: str, attributes: dict[str, object]) -> str:
    if not attributes:
        return name
    args = ", ".join(f"{key}={value!r}" for key, value in attributes.items())
    return f"{name}({args})"


def _step_header(graph: FlowGraph, node: StepNode, reachable: set[str]) -> str:
    header = f"Step {node.name}"
    if node.is_join:
        header += " (join)"
    if node.defined_in and node.defined_in != graph.name:
        header += f" (inherited from {node.defined_in})"
    if node.name not in reachable:
        header += " (not reachable from the start step)"
    return header


def _successor_lines(node: StepNode) -> list[str]:
    if node.type is NodeType.END and not node.out_funcs:
        return []
    if node.is_switch:
        lines = [f"{INDENT}=> switch on self.{node.switch_condition}:"]
        for case, target in node.switch_cases.items():
            loop = " (loops back to this step)" if target == node.name else ""
            lines.append(f"{INDENT}{INDENT}{case!r} -> {target}{loop}")
        return lines
    arrow = f"{INDENT}=> {', '.join(node.out_funcs) or '(nothing)'}"
    if node.foreach_var is not None:
        arrow += f" (foreach item of self.{node.foreach_var})"
    if node.num_parallel is not None:
        arrow += f" (a gang of num_parallel={node.num_parallel} tasks)"
    return [arrow]


def _indent(text: str) -> str:
    return "\n".join(f"{INDENT}{line}".rstrip() for line in text.splitlines())


def _reachable(graph: FlowGraph) -> set[str]:
    seen: set[str] = set()
    todo = [graph.start] if graph.start in graph else []
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [n for n in graph[name].out_funcs if n in graph]
    return seen


# -- Mermaid -------------------------------------------------------------------


def render_mermaid(graph: FlowGraph) -> str:
    """A Mermaid ``flowchart TD`` of the flow (node ids are ``step_<name>``)."""
    lines = ["flowchart TD"]
    terminals = {graph.start, graph.end}
    lines += [f"{INDENT}{_mermaid_node(node, node.name in terminals)}" for node in graph]
    lines += [f"{INDENT}{edge}" for edge in _mermaid_edges(graph)]
    lines += [
        f"{INDENT}classDef join fill:#fde9c9,stroke:#c77d00",
        f"{INDENT}classDef switch fill:#d9f2d9,stroke:#2e7d32",
    ]
    for css_class, nodes in (("join", _joins(graph)), ("switch", _switches(graph))):
        if nodes:
            lines.append(f"{INDENT}class {','.join(mermaid_id(n) for n in nodes)} {css_class}")
    return "\n".join(lines) + "\n"


def mermaid_id(step: str) -> str:
    """The Mermaid node id of a step (prefixed: ``end`` is a Mermaid keyword)."""
    return f"step_{step}"


def _mermaid_node(node: StepNode, terminal: bool) -> str:
    node_id, name = mermaid_id(node.name), node.name
    if node.is_switch:
        return f'{node_id}{{"{name}<br/>switch on {node.switch_condition}"}}'
    if node.is_join:
        return f'{node_id}[\\"{name}"/]'
    if terminal:
        return f'{node_id}(["{name}"])'
    return f'{node_id}["{name}"]'


def _mermaid_edges(graph: FlowGraph) -> Iterator[str]:
    for node in graph:
        for target, label in _labelled_edges(node):
            if target not in graph:
                continue
            arrow = f'-->|"{_mermaid_text(label)}"|' if label else "-->"
            yield f"{mermaid_id(node.name)} {arrow} {mermaid_id(target)}"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def _joins(graph: FlowGraph) -> list[str]:
    return [node.name for node in graph if node.is_join]


def _switches(graph: FlowGraph) -> list[str]:
    return [node.name for node in graph if node.is_switch]


def _labelled_edges(node: StepNode) -> list[tuple[str, str | None]]:
    """``(target, label)`` for every edge out of ``node``, in ``self.next`` order."""
    if node.is_switch:
        return [(target, _case_text(case)) for case, target in node.switch_cases.items()]
    if node.foreach_var is not None:
        return [(target, f"foreach {node.foreach_var}") for target in node.out_funcs]
    if node.num_parallel is not None:
        return [(target, f"num_parallel={node.num_parallel}") for target in node.out_funcs]
    return [(target, None) for target in node.out_funcs]


def _case_text(case: object) -> str:
    return case if isinstance(case, str) else repr(case)


# -- Graphviz DOT --------------------------------------------------------------


def render_dot(graph: FlowGraph) -> str:
    """A Graphviz ``digraph``; pipe it to ``dot -Tpng -o flow.png`` for an image."""
    lines = [f"digraph {_dot_quote(graph.name)} {{", f'{INDENT}node [fontname="Helvetica"];']
    lines += [f"{INDENT}{_dot_node(node)}" for node in graph]
    for node in graph:
        for target, label in _labelled_edges(node):
            if target in graph:
                lines.append(f"{INDENT}{_dot_edge(node, target, label)}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_node(node: StepNode) -> str:
    name = html.escape(node.name)
    if node.is_switch:
        condition = html.escape(f"switch: {node.switch_condition}")
        label = f'<<b>{name}</b><br/><font point-size="9">{condition}</font>>'
        style = 'shape="hexagon", style="filled", fillcolor="lightgreen"'
    else:
        label = f'<<b>{name}</b><br/><font point-size="10">{node.type.value}</font>>'
        style = 'shape="box", style="rounded"'
    return f"{_dot_quote(node.name)} [label={label}, {style}];"


def _dot_edge(node: StepNode, target: str, label: str | None) -> str:
    edge = f"{_dot_quote(node.name)} -> {_dot_quote(target)}"
    if label is None:
        return edge + ";"
    attrs = f"label={_dot_quote(label)}"
    if node.is_switch:
        attrs += ', color="blue", fontcolor="blue"'
    return f"{edge} [{attrs}];"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- JSON ----------------------------------------------------------------------


def render_json(graph: FlowGraph) -> str:
    """``graph.to_dict()`` as indented JSON."""
    return json.dumps(graph.to_dict(), indent=2) + "\n"


RENDERERS: dict[str, Callable[[FlowGraph], str]] = {
    "text": render_text,
    "mermaid": render_mermaid,
    "dot": render_dot,
    "json": render_json,
}


def render(graph: FlowGraph, fmt: str = "text") -> str:
    """Render ``graph`` in ``fmt``: one of ``text``, ``mermaid``, ``dot``, ``json``."""
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        raise ValueError(
            f"unknown graph format {fmt!r}; use one of {', '.join(RENDERERS)}"
        ) from None
    return renderer(graph)
