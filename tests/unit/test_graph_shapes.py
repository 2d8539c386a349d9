"""The static graph of every flow shape, read from source."""

from __future__ import annotations

import json

import pytest

from grange.graph import FlowGraph, NodeType, graph_of


def shape(graph: FlowGraph) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(n.name, n.type.value, n.out_funcs) for n in graph]


def test_linear(valid_flow) -> None:
    graph = graph_of(valid_flow("linear"))
    assert shape(graph) == [
        ("start", "start", ("middle",)),
        ("middle", "linear", ("end",)),
        ("end", "end", ()),
    ]
    assert graph["middle"].in_funcs == ("start",)
    assert graph["start"].doc == "Begin."
    assert graph.doc == "A straight line of steps."
    assert graph["start"].line == 10 and graph["end"].line == 21
    assert graph["start"].file.endswith("tests/flows/valid/linear.py")


def test_static_branch(valid_flow) -> None:
    graph = graph_of(valid_flow("branch"))
    assert graph["start"].type is NodeType.SPLIT_STATIC
    assert graph["start"].out_funcs == ("a", "b", "c")
    assert graph["join"].type is NodeType.JOIN
    assert graph["join"].in_funcs == ("a", "b", "c")
    assert graph["start"].matching_join == "join"
    assert graph["a"].split_parents == ("start",)
    assert graph["join"].split_parents == ()
    assert [n.name for n in graph] == ["start", "a", "b", "c", "join", "end"]


def test_nested_branch(valid_flow) -> None:
    graph = graph_of(valid_flow("nested_branch"))
    assert graph["outer_a"].type is NodeType.SPLIT_STATIC
    assert graph["inner_a"].split_parents == ("start", "outer_a")
    assert graph["outer_a"].matching_join == "inner_join"
    assert graph["start"].matching_join == "outer_join"
    assert graph["outer_join"].in_funcs == ("inner_join", "outer_b")
    order = [n.name for n in graph]
    assert order.index("inner_join") < order.index("outer_join")


def test_foreach(valid_flow) -> None:
    graph = graph_of(valid_flow("foreach"))
    start = graph["start"]
    assert start.type is NodeType.SPLIT_FOREACH
    assert start.foreach_var == "items"
    assert start.matching_join == "join"
    assert graph["work"].split_parents == ("start",)


def test_nested_foreach(valid_flow) -> None:
    graph = graph_of(valid_flow("nested_foreach"))
    assert graph["outer"].type is NodeType.SPLIT_FOREACH
    assert graph["outer"].foreach_var == "ys"
    assert graph["inner"].split_parents == ("start", "outer")
    assert graph["outer"].matching_join == "inner_join"
    assert graph["start"].matching_join == "outer_join"


def test_switch(valid_flow) -> None:
    graph = graph_of(valid_flow("switch"))
    start = graph["start"]
    assert start.type is NodeType.SPLIT_SWITCH
    assert start.switch_condition == "coin"
    assert start.switch_cases == {"heads": "heads", "tails": "tails"}
    assert not start.is_loop
    # a switch opens no split: its cases merge in an ordinary step
    assert graph["after"].type is NodeType.LINEAR
    assert graph["after"].in_funcs == ("heads", "tails")
    assert graph["heads"].split_parents == ()


def test_switch_loop(valid_flow) -> None:
    graph = graph_of(valid_flow("switch_loop"))
    loop = graph["loop"]
    assert loop.type is NodeType.SPLIT_SWITCH
    assert loop.is_loop
    assert loop.switch_cases == {"again": "loop", "done": "end"}
    assert loop.in_funcs == ("start", "loop")
    assert [n.name for n in graph] == ["start", "loop", "end"]


def test_inheritance(valid_flow) -> None:
    graph = graph_of(valid_flow("inherited"))
    assert shape(graph) == [
        ("start", "start", ("train",)),
        ("train", "linear", ("evaluate",)),
        ("evaluate", "linear", ("end",)),
        ("end", "end", ()),
    ]
    # the overriding step comes from the subclass, the others from the base file
    assert graph["train"].file.endswith("inherited.py")
    assert graph["start"].file.endswith("base_flow.py")
    assert [p.name for p in graph.parameters] == ["seed", "depth"]
    assert graph.parameters[1].type == "int"


def test_graph_is_cached_per_class(valid_flow) -> None:
    cls = valid_flow("linear")
    assert graph_of(cls) is graph_of(cls)


@pytest.mark.parametrize(
    "stem",
    [
        "linear",
        "branch",
        "nested_branch",
        "foreach",
        "nested_foreach",
        "switch",
        "switch_loop",
        "inherited",
    ],
)
def test_json_form_round_trips(valid_flow, stem: str) -> None:
    graph = graph_of(valid_flow(stem))
    data = json.loads(json.dumps(graph.to_dict()))
    assert data["flow"] == graph.name
    assert list(data["steps"]) == [n.name for n in graph]
    for name, step in data["steps"].items():
        assert step["type"] == graph[name].type.value
        assert step["next"] == list(graph[name].out_funcs)
        assert step["line"] == graph[name].line
