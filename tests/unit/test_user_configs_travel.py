"""How bound configs travel: to task processes, pods and templates, and into a run's claim."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support import load_flow

from grange.deploy.argo.compiler import _configs_env
from grange.exceptions import CommandError, CompileError
from grange.graph.configs import bind_configs
from grange.runtime.configs import claim_configs, export_configs, pod_configs_env

FLOW = """
from grange import Config, FlowSpec, step

class TravelFlow(FlowSpec):
    cfg = Config("cfg", default_value={"a": 1})
    raw = Config("raw", default_value="text", plain=True)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.fixture
def flow_cls(tmp_path: Path) -> type:
    path = tmp_path / "travel.py"
    path.write_text(textwrap.dedent(FLOW))
    return load_flow(path)


_VARS = ("GRANGE_FLOW_CONFIG", "GRANGE_FLOW_CONFIG_VALUE", "GRANGE_FLOW_CONFIG_BOUND")


@pytest.fixture
def clean_env() -> Iterator[None]:
    """export_configs sets os.environ as the runtime does: put it back afterwards."""
    before = {v: os.environ.pop(v) for v in _VARS if v in os.environ}
    yield
    for var in _VARS:
        os.environ.pop(var, None)
    os.environ.update(before)


def test_small_values_travel_in_the_environment(flow_cls: type, clean_env: None) -> None:
    bind_configs(flow_cls)
    os.environ["GRANGE_FLOW_CONFIG_VALUE"] = "{}"  # read already: not passed on
    assert export_configs(flow_cls) is None
    assert "GRANGE_FLOW_CONFIG_VALUE" not in os.environ
    sent = json.loads(os.environ["GRANGE_FLOW_CONFIG_BOUND"])
    assert sent == {"flow": "TravelFlow", "configs": {"cfg": {"a": 1}, "raw": "text"}}
    assert pod_configs_env() == {"GRANGE_FLOW_CONFIG_BOUND": os.environ["GRANGE_FLOW_CONFIG_BOUND"]}
    assert json.loads(_configs_env(flow_cls)["GRANGE_FLOW_CONFIG_BOUND"]) == sent
    assert claim_configs(flow_cls) == {
        "cfg": {"value": {"a": 1}, "plain": False},
        "raw": {"value": "text", "plain": True},
    }


def test_huge_values_go_in_a_file_and_are_refused_for_pods(flow_cls: type, clean_env: None) -> None:
    bind_configs(flow_cls, {"cfg": {"blob": "x" * 200_000}})
    path = export_configs(flow_cls)
    try:
        assert path is not None and os.environ["GRANGE_FLOW_CONFIG_BOUND"] == "@" + path
        assert json.loads(Path(path).read_text())["configs"]["cfg"]["blob"] == "x" * 200_000
        with pytest.raises(CommandError, match="too big to pass to a pod"):
            pod_configs_env()
        with pytest.raises(CompileError, match="too big to bake into a workflow template"):
            _configs_env(flow_cls)
    finally:
        if path:
            os.unlink(path)


def test_a_flow_without_configs_passes_nothing(tmp_path: Path, clean_env: None) -> None:
    path = tmp_path / "plain.py"
    path.write_text("from grange import FlowSpec\nclass PlainFlow(FlowSpec):\n    pass\n")
    cls = load_flow(path)
    os.environ["GRANGE_FLOW_CONFIG_BOUND"] = '{"flow": "Other", "configs": {}}'
    assert export_configs(cls) is None and "GRANGE_FLOW_CONFIG_BOUND" not in os.environ
    assert claim_configs(cls) is None and _configs_env(cls) == {}
