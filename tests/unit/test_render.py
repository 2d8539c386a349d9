"""Rendering a flow graph as text, Mermaid, Graphviz DOT and JSON."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from grange.cli.loader import load_flow_class
from grange.graph import DecoratorInfo, FlowGraph, NodeType, StepNode
from grange.graph import graph_of as read_graph
from grange.graph.render import (
    mermaid_id,
    render,
    render_dot,
    render_json,
    render_mermaid,
    render_text,
)

VALID = Path(__file__).resolve().parents[1] / "flows" / "valid"
ALL_VALID = sorted(p.stem for p in VALID.glob("*.py"))


def graph_of(stem: str) -> FlowGraph:
    return read_graph(load_flow_class(str(VALID / f"{stem}.py")))


def edges_of(graph: FlowGraph) -> set[tuple[str, str]]:
    return {(node.name, target) for node in graph for target in node.out_funcs}


def synthetic_graph() -> FlowGraph:
    """start -> train (decorated) -> end, plus a step nothing reaches."""

    def node(name: str, kind: NodeType, line: int, out: tuple[str, ...], **kw: Any) -> StepNode:
        return StepNode(name=name, type=kind, file="f.py", line=line, out_funcs=out, **kw)

    retry = DecoratorInfo(name="retry", attributes={"times": 2}, line=5)
    nodes = {
        "start": node("start", NodeType.START, 3, ("train",)),
        "train": node(
            "train", NodeType.LINEAR, 6, ("end",), decorators=(retry,), doc="Fit.\nTwice."
        ),
        "stray": node("stray", NodeType.LINEAR, 9, ("end",)),
        "end": node("end", NodeType.END, 12, ()),
    }
    return FlowGraph(name="Synth", file="f.py", line=1, doc=None, nodes=nodes)


# -- text --------------------------------------------------------------------


def test_text_shows_docstrings_parameters_and_successors_in_order() -> None:
    text = render_text(graph_of("linear"))
    assert text.startswith("Flow LinearFlow\n    A straight line of steps.\n")
    assert "    Parameter alpha (float, default 0.5): learning rate\n" in text
    assert "Step start\n    Begin.\n    => middle\n" in text
    assert "Step middle\n    ?\n    => end\n" in text
    assert text.index("Step start") < text.index("Step middle") < text.index("Step end")
    assert text.rstrip().endswith("Step end\n    ?")


def test_text_names_the_foreach_variable_and_marks_joins() -> None:
    text = render_text(graph_of("foreach"))
    assert "Step start\n    ?\n    => work (foreach item of self.items)\n" in text
    assert "Step join (join)\n" in text


def test_text_lists_static_branches() -> None:
    assert "=> a, b, c\n" in render_text(graph_of("branch"))


def test_text_shows_switch_condition_and_each_case() -> None:
    text = render_text(graph_of("switch"))
    assert (
        "    => switch on self.coin:\n        'heads' -> heads\n        'tails' -> tails\n" in text
    )


def test_text_marks_a_switch_self_loop() -> None:
    text = render_text(graph_of("switch_loop"))
    assert "'again' -> loop (loops back to this step)" in text
    assert "'done' -> end\n" in text


def test_text_marks_inherited_steps() -> None:
    text = render_text(graph_of("inherited"))
    assert "Step start (inherited from BaseFlow)" in text
    assert "Step evaluate\n" in text


def test_text_shows_decorators_multiline_docs_and_unreachable_steps() -> None:
    text = render_text(synthetic_graph())
    assert "@retry(times=2)\nStep train\n    Fit.\n    Twice.\n    => end\n" in text
    assert "Step stray (not reachable from the start step)" in text


# -- Mermaid -----------------------------------------------------------------

MERMAID_EDGE = re.compile(r"^\s+step_(\w+) -->(?:\|\"([^\"]*)\"\|)? step_(\w+)$", re.M)


@pytest.mark.parametrize("stem", ALL_VALID)
def test_mermaid_has_every_edge_and_node(stem: str) -> None:
    graph = graph_of(stem)
    chart = render_mermaid(graph)
    assert chart.splitlines()[0] == "flowchart TD"
    assert {(a, b) for a, b in ((m[0], m[2]) for m in MERMAID_EDGE.findall(chart))} == edges_of(
        graph
    )
    for node in graph:
        assert re.search(rf"^\s+{mermaid_id(node.name)}[\[\(\{{]", chart, re.M), node.name
    # "end" is a Mermaid keyword: it must never be used as a bare node id.
    assert not re.search(r"^\s+end\b", chart, re.M)


def test_mermaid_labels_foreach_edges_and_draws_joins_distinctly() -> None:
    chart = render_mermaid(graph_of("foreach"))
    assert '    step_start -->|"foreach items"| step_work\n' in chart
    assert "    step_work --> step_join\n" in chart
    assert '    step_join[\\"join"/]\n' in chart
    assert '    step_start(["start"])\n' in chart and '    step_end(["end"])\n' in chart
    assert "    class step_join join\n" in chart


def test_mermaid_draws_switch_as_rhombus_with_case_labels() -> None:
    chart = render_mermaid(graph_of("switch"))
    assert '    step_start{"start<br/>switch on coin"}\n' in chart
    assert '    step_start -->|"heads"| step_heads\n' in chart
    assert '    step_start -->|"tails"| step_tails\n' in chart
    assert "    class step_start switch\n" in chart


def test_mermaid_draws_the_self_loop() -> None:
    chart = render_mermaid(graph_of("switch_loop"))
    assert '    step_loop -->|"again"| step_loop\n' in chart
    assert '    step_loop -->|"done"| step_end\n' in chart


# -- DOT ---------------------------------------------------------------------

DOT_EDGE = re.compile(r'^\s+"(\w+)" -> "(\w+)"(?: \[(.*)\])?;$', re.M)


@pytest.mark.parametrize("stem", ALL_VALID)
def test_dot_has_every_edge_and_node(stem: str) -> None:
    graph = graph_of(stem)
    dot = render_dot(graph)
    assert dot.startswith(f'digraph "{graph.name}" {{\n') and dot.rstrip().endswith("}")
    assert {(a, b) for a, b, _ in DOT_EDGE.findall(dot)} == edges_of(graph)
    for node in graph:
        assert re.search(rf'^\s+"{node.name}" \[label=<<b>{node.name}</b>', dot, re.M)


def test_dot_draws_switch_as_hexagon_with_labelled_edges() -> None:
    dot = render_dot(graph_of("switch_loop"))
    loop = next(line for line in dot.splitlines() if line.strip().startswith('"loop" [label'))
    assert 'shape="hexagon"' in loop and "switch: more" in loop
    labels = {(a, b): attrs for a, b, attrs in DOT_EDGE.findall(dot)}
    assert labels[("loop", "loop")] == 'label="again", color="blue", fontcolor="blue"'
    assert labels[("loop", "end")].startswith('label="done"')
    assert labels[("start", "loop")] == ""


def test_dot_labels_foreach_edges_and_names_step_types() -> None:
    dot = render_dot(graph_of("foreach"))
    assert '    "start" -> "work" [label="foreach items"];\n' in dot
    assert '<font point-size="10">join</font>' in dot
    assert 'shape="hexagon"' not in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
@pytest.mark.parametrize("stem", ALL_VALID)
def test_dot_is_accepted_by_graphviz(stem: str) -> None:
    result = subprocess.run(
        ["dot", "-Tsvg"],
        input=render_dot(graph_of(stem)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# -- JSON and dispatch -------------------------------------------------------


@pytest.mark.parametrize("stem", ALL_VALID)
def test_json_is_the_graph_dict(stem: str) -> None:
    graph = graph_of(stem)
    data = json.loads(render_json(graph))
    assert data == graph.to_dict()
    assert list(data["steps"]) == [node.name for node in graph]


def test_json_carries_switch_cases_and_foreach_var() -> None:
    switch = json.loads(render_json(graph_of("switch_loop")))["steps"]["loop"]
    assert switch["switch_cases"] == {"again": "loop", "done": "end"}
    assert switch["is_loop"] is True
    assert json.loads(render_json(graph_of("foreach")))["steps"]["start"]["foreach_var"] == "items"


def test_render_dispatches_by_format_and_rejects_unknown_ones() -> None:
    graph = graph_of("linear")
    assert render(graph) == render_text(graph)
    assert render(graph, "dot") == render_dot(graph)
    with pytest.raises(ValueError, match="unknown graph format 'svg'"):
        render(graph, "svg")
