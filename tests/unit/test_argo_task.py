"""The pure parts of a task's Argo mode: index paths, task ids, batches, output
parameters and workflow arguments (grange.runtime.remote_task, runtime.argo_task)."""

from __future__ import annotations

import json

import pytest

from grange import FlowSpec, JSONType, Parameter, step
from grange.datastore import AttemptRecord
from grange.exceptions import CommandError, ParameterError
from grange.graph import graph_of
from grange.runtime.argo_task import argo_parameter_values
from grange.runtime.remote_task import argo_task_id, batches, output_parameters, parse_index


@pytest.mark.parametrize(
    ("text", "index"),
    [("", ()), (".", ()), ("3", (3,)), (".3", (3,)), ("3.7", (3, 7)), (".3.7.", (3, 7))],
)
def test_index_paths(text: str, index: tuple[int, ...]) -> None:
    assert parse_index(text) == index


@pytest.mark.parametrize("text", ["a", "3..7", "-1", "{{item}}"])
def test_a_bad_index_path_is_named(text: str) -> None:
    with pytest.raises(CommandError, match="--argo-index"):
        parse_index(text)


def test_task_ids_are_deterministic() -> None:
    assert argo_task_id(()) == "t0"
    assert argo_task_id((3,)) == "t3"
    assert argo_task_id((3, 7)) == "t3.7"
    assert argo_task_id((), 2) == "t0-2"
    assert argo_task_id((3,), 1) == "t3-1"


def test_batches_cover_every_item_once() -> None:
    assert batches(1, 1000) == [{"start": 0, "end": 0}]
    assert batches(7, 3) == [{"start": 0, "end": 2}, {"start": 3, "end": 5}, {"start": 6, "end": 6}]
    assert batches(6, 3) == [{"start": 0, "end": 2}, {"start": 3, "end": 5}]
    wide = batches(10_000, 1000)
    assert len(wide) == 10 and wide[-1] == {"start": 9000, "end": 9999}


class Shapes(FlowSpec):
    n = Parameter("n", default=2)
    rate = Parameter("learning-rate", default=0.1)
    names = Parameter("names", default="a", separator=",")
    conf = Parameter("conf", default='{"k": 1}', type=JSONType)

    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.side = "a"
        self.next({"a": self.a, "b": self.b}, condition="side")

    @step
    def a(self):
        self.next(self.merge)

    @step
    def b(self):
        self.next(self.merge)

    @step
    def merge(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def _record(step_name: str, **extra: object) -> AttemptRecord:
    return AttemptRecord(
        flow="Shapes",
        run_id="argo-x",
        step=step_name,
        task_id="t3",
        attempt=0,
        status="ok",
        started_at=0.0,
        finished_at=1.0,
        artifacts={},
        exception=None,
        extra=dict(extra),
    )


def test_output_parameters() -> None:
    graph = graph_of(Shapes)
    split = _record("start", next=["each"], foreach={"key": "k", "count": 5})
    assert output_parameters(graph, split, batch_size=2) == {
        "task-id": "t3",
        "count": "5",
        "batches": json.dumps(batches(5, 2), separators=(",", ":")),
    }
    switch = _record("each", next=["b"], case="b")
    assert output_parameters(graph, switch, batch_size=2) == {"task-id": "t3", "switch-step": "b"}
    assert output_parameters(graph, _record("a", next=["merge"]), batch_size=2) == {"task-id": "t3"}


def test_workflow_arguments_as_run_takes_them() -> None:
    values = argo_parameter_values(
        Shapes, ["n=5", "learning-rate=0.5", 'names="x,y"', 'conf={"k": 2}']
    )
    assert values == {"n": 5, "rate": 0.5, "names": ["x", "y"], "conf": {"k": 2}}
    assert argo_parameter_values(Shapes, [])["n"] == 2  # missing: the default
    assert argo_parameter_values(Shapes, ["n=null"])["n"] == 2
    assert argo_parameter_values(Shapes, ["names=plain text"])["names"] == ["plain text"]
    # The compiler encodes converted defaults: a separator's parts as a JSON list.
    assert argo_parameter_values(Shapes, ['names=["a","b"]'])["names"] == ["a", "b"]


def test_a_bad_workflow_argument_names_the_parameter() -> None:
    with pytest.raises(ParameterError) as err:
        argo_parameter_values(Shapes, ['n="many"'])
    assert err.value.parameter == "n" and "argo-workflows trigger --n" in (err.value.fix or "")
    with pytest.raises(ParameterError, match="no parameter 'm'"):
        argo_parameter_values(Shapes, ["m=1"])
    with pytest.raises(ParameterError, match="NAME=VALUE"):
        argo_parameter_values(Shapes, ["n"])


def test_str_parameters_keep_text_typed_by_hand() -> None:
    """Values typed in Argo's UI or `argo submit -p` are not JSON-encoded: a str
    parameter keeps "true", "0.10" or "1e5" as typed; JSON strings are decoded."""
    from grange.parameters import Parameter
    from grange.runtime.argo_task import _given

    text = Parameter("text", default="a")
    assert _given(text, "true") == "true"
    assert _given(text, "0.10") == "0.10"
    assert _given(text, "1e5") == "1e5"
    assert _given(text, '"quoted"') == "quoted"
    assert _given(text, "plain words") == "plain words"
    assert _given(Parameter("n", default=1), "5") == 5
