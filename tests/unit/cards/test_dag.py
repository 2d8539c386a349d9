"""The DAG drawing: shapes of every kind of flow, states, links, escaping."""

from __future__ import annotations

import re
from typing import Any

import pytest

from grange.cards.dag import dag_svg

from .conftest import flow_graph


def nodes(svg: str) -> list[str]:
    return re.findall(r'data-testid="dag-node" data-step="([^"]+)"', svg)


@pytest.mark.parametrize(
    "name",
    [
        "linear",
        "branch",
        "foreach",
        "nested_foreach",
        "switch",
        "switch_loop",
        "nested_branch",
        "parallel",
    ],
)
def test_every_step_is_a_node(name: str) -> None:
    graph = flow_graph(name)
    svg = dag_svg(graph, highlight="start")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert sorted(nodes(svg)) == sorted(graph["steps"])
    assert svg.count('data-highlight="true"') == 1


def test_branches_are_side_by_side() -> None:
    graph = flow_graph("branch")
    svg = dag_svg(graph)
    split = next(n for n, s in graph["steps"].items() if s["type"] == "split-static")
    a, b = graph["steps"][split]["next"][:2]
    ya = re.search(rf'data-step="{a}".*?<rect x="\d+" y="(\d+)"', svg)
    yb = re.search(rf'data-step="{b}".*?<rect x="\d+" y="(\d+)"', svg)
    assert ya and yb and ya.group(1) == yb.group(1)


def test_foreach_edges_are_labelled_and_bodies_stacked() -> None:
    graph = flow_graph("nested_foreach")
    svg = dag_svg(graph)
    assert svg.count(">foreach ") == 2
    assert 'stroke-dasharray="5 3"' in svg


def test_switch_is_a_rhombus_with_case_labels() -> None:
    graph = flow_graph("switch")
    step = next(s for s in graph["steps"].values() if s["type"] == "split-switch")
    svg = dag_svg(graph)
    assert "<polygon" in svg
    for case in step["switch_cases"]:
        assert f">{case}<" in svg or f"{case} |" in svg or f"| {case}" in svg


def test_switch_loop_draws_the_back_edge() -> None:
    svg = dag_svg(flow_graph("switch_loop"))
    assert 'class="dag-edge dag-loop" data-from="loop" data-to="loop"' in svg
    assert ">again<" in svg and ">done<" in svg


def test_states_colour_nodes_and_show_counts() -> None:
    graph = flow_graph("foreach")
    body = next(s["next"][0] for s in graph["steps"].values() if s["type"] == "split-foreach")
    states: dict[str, dict[str, Any]] = {
        "start": {"status": "ok", "done": 1, "total": 1},
        body: {"status": "running", "done": 2, "running": 1, "failed": 1, "total": 4},
    }
    svg = dag_svg(graph, states=states)
    assert re.search(r'data-step="start" data-type="[a-z-]+" data-status="ok"', svg)
    assert ">2/4 · 1 running, 1 failed<" in svg
    assert 'data-status="pending"' in svg  # steps without a state yet


def test_links_wrap_nodes_and_refuse_script_urls() -> None:
    graph = flow_graph("linear")
    svg = dag_svg(
        graph, links={"start": "/flows/F/runs/1?step=a&b=<x>", "end": "javascript:alert(1)"}
    )
    assert '<a href="/flows/F/runs/1?step=a&amp;b=&lt;x&gt;"' in svg
    assert "javascript" not in svg


def test_names_are_escaped() -> None:
    bad = '<script>x</script>"'
    graph = {
        "start": bad,
        "steps": {
            bad: {"type": "start", "next": ["end"], "in": []},
            "end": {"type": "end", "next": [], "in": [bad]},
        },
    }
    svg = dag_svg(graph, highlight=bad, links={bad: "/x"})
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_thirty_steps_stay_readable() -> None:
    names = [f"step_{i:02d}" for i in range(32)]
    steps = {
        n: {
            "type": "linear",
            "next": [names[i + 1]] if i + 1 < len(names) else [],
            "in": [names[i - 1]] if i else [],
        }
        for i, n in enumerate(names)
    }
    svg = dag_svg({"start": names[0], "steps": steps})
    assert len(nodes(svg)) == 32
    height = int(re.search(r'height="(\d+)"', svg).group(1))  # type: ignore[union-attr]
    assert height > 32 * 38  # one layer per step: nothing squeezed
    assert 'font-size="13"' in svg


def test_empty_graph() -> None:
    assert "(no steps)" in dag_svg({})


def test_a_long_edge_goes_round_the_steps_between() -> None:
    graph = flow_graph("nested_branch")
    svg = dag_svg(graph)
    # an edge that skips layers is drawn through waypoints (an L segment between curves)
    assert re.search(r'class="dag-edge" data-from="outer_b" data-to="outer_join" d="M[^"]* L', svg)
