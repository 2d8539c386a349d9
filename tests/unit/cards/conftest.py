"""Helpers for the card tests: the graph of a flow file under tests/flows/valid."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

VALID = Path(__file__).resolve().parents[2] / "flows" / "valid"


def flow_graph(name: str) -> dict[str, Any]:
    from grange.flowspec import FlowSpec
    from grange.graph import graph_of

    spec = importlib.util.spec_from_file_location(f"cards_flow_{name}", VALID / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    [cls] = [
        v
        for v in vars(module).values()
        if isinstance(v, type)
        and issubclass(v, FlowSpec)
        and v is not FlowSpec
        and v.__module__ == module.__name__
    ]
    return graph_of(cls).to_dict()


@pytest.fixture
def graph_of_file() -> Any:
    return flow_graph
