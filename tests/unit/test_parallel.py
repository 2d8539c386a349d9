"""@parallel gangs without processes: the graph, self.next(num_parallel=), the
scheduler's fan-out, the runtime's gang bookkeeping and resume's whole-gang rule."""

from __future__ import annotations

import json

import pytest

from grange import FlowSpec, current, parallel, step
from grange.datastore import AttemptRecord
from grange.exceptions import InvalidNextError
from grange.graph import NodeType, graph_of
from grange.runtime.parallel import Gangs, whole_gangs
from grange.runtime.scheduler import Outcome, Scheduler
from grange.task.parallel import gang_facts
from grange.task.spec import Frame, TaskSpec


class GangFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=3)

    @parallel
    @step
    def train(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_the_graph_knows_the_gang(valid_flow) -> None:
    graph = graph_of(GangFlow)
    start = graph["start"]
    assert start.type is NodeType.SPLIT_PARALLEL and start.type.value == "split-parallel"
    assert start.num_parallel == 3 and start.is_split and start.is_fanout
    assert start.matching_join == "join"
    assert graph["train"].parallel_step and graph["train"].split_parents == ("start",)
    assert not graph["join"].parallel_step
    data = json.loads(json.dumps(graph.to_dict()))
    assert data["steps"]["start"]["num_parallel"] == 3
    assert data["steps"]["start"]["type"] == "split-parallel"
    # an expression is kept as written, and read when the step runs
    param = graph_of(valid_flow("parallel"))["start"]
    assert param.num_parallel == "self.nodes" and param.type is NodeType.SPLIT_PARALLEL


def test_next_with_num_parallel_records_the_gang() -> None:
    flow = GangFlow(use_cli=False)
    flow.next(flow.train, num_parallel=4)
    assert flow._transition is not None
    assert flow._transition.steps == ("train",) and flow._transition.num_parallel == 4


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f: f.next(f.train, num_parallel=0), "num_parallel=0 is not a whole number"),
        (lambda f: f.next(f.train, num_parallel=2.5), "num_parallel=2.5"),
        (lambda f: f.next(f.train, num_parallel=True), "num_parallel=True"),
        (lambda f: f.next(f.train, f.join, num_parallel=2), "exactly one @parallel step"),
        (lambda f: f.next(f.train, num_parallel=2, foreach="x"), "cannot be combined"),
        (lambda f: f.next(f.helper, num_parallel=2), "is not a step of this flow"),
    ],
)
def test_invalid_num_parallel_is_refused(call, message: str) -> None:
    flow = GangFlow(use_cli=False)
    flow.helper = lambda: None
    with pytest.raises(InvalidNextError, match=message) as info:
        call(flow)
    assert info.value.line is not None and info.value.fix


def test_the_scheduler_fans_a_gang_out_and_joins_all_of_it() -> None:
    scheduler = Scheduler(graph_of(GangFlow))
    pending = list(scheduler.on_success(Outcome("1", "start", (), ("train",), 0, 3, "k")))
    assert [(p.step, p.frames[-1].index, p.frames[-1].count) for p in pending] == [
        ("train", 0, 3),
        ("train", 1, 3),
        ("train", 2, 3),
    ]
    joins = []
    for task_id, p in zip(("2", "3", "4"), pending, strict=True):
        joins += scheduler.on_success(Outcome(task_id, "train", p.frames, ("join",)))
    assert [(j.step, j.inputs) for j in joins] == [("join", ("train/2", "train/3", "train/4"))]


def spec(task_id: str, index: int, count: int = 3, attempt: int = 0) -> TaskSpec:
    frame = Frame("start", "1", index, count, True, "k")
    return TaskSpec("GangFlow", "7", "train", task_id, attempt=attempt, frames=(frame,))


def record(s: TaskSpec, status: str = "ok") -> AttemptRecord:
    return AttemptRecord(
        flow=s.flow,
        run_id=s.run_id,
        step=s.step,
        task_id=s.task_id,
        attempt=s.attempt,
        status=status,  # type: ignore[arg-type]
        started_at=0.0,
        finished_at=0.0,
        artifacts={},
        extra={"frames": [f.to_list() for f in s.frames]},
    )


def test_a_gang_starts_with_its_control_task_and_holds_successes_until_all_end() -> None:
    gangs = Gangs(graph_of(GangFlow))
    assert gangs.steps == {"train"}
    leader = gangs.form([spec("2", 0), spec("3", 1), spec("4", 2)])
    assert leader.task_id == "2" and leader.extra["parallel"]["control_task_id"] == "2"
    admitted = TaskSpec(**{**leader.__dict__, "extra": {**leader.extra, "timeout": 5}})
    followers = gangs.followers(admitted)
    assert [f.task_id for f in followers] == ["3", "4"]
    assert all(
        f.extra["timeout"] == 5 and f.extra["parallel"] == leader.extra["parallel"]
        for f in followers
    )
    assert gangs.followers(admitted) == []  # launched once
    members = [admitted, *followers]
    assert gangs.finished(members[1], record(members[1]), 0, None, ok=True) == ([], None, None)
    assert gangs.finished(members[0], record(members[0]), 0, None, ok=True) == ([], None, None)
    stop, exc, settled = gangs.finished(members[2], record(members[2]), 0, None, ok=True)
    assert stop == [] and exc is None and settled is not None
    assert settled.first_failure is None
    assert [s.task_id for s, _ in settled.succeeded] == ["2", "3", "4"]


def test_a_failure_stops_the_rest_of_the_gang_and_the_gang_runs_again_whole() -> None:
    gangs = Gangs(graph_of(GangFlow))
    leader = gangs.form([spec("2", 0), spec("3", 1), spec("4", 2)])
    members = [leader, *gangs.followers(leader)]
    assert gangs.finished(members[2], record(members[2]), 0, None, ok=True)[2] is None
    boom = {"type": "RuntimeError", "message": "boom"}
    stop, exc, settled = gangs.finished(members[1], None, 1, boom, ok=False)
    assert stop == ["2"] and exc == boom and settled is None
    stop, exc, settled = gangs.finished(members[0], None, -9, {"type": "WorkerDied"}, ok=False)
    assert stop == [] and exc is not None and exc["type"] == "GangMemberFailed"
    assert "task 3 (node 1)" in exc["message"]
    assert settled is not None and settled.first_failure is not None
    assert settled.first_failure[0].task_id == "3"
    assert [s.task_id for s in settled.failed] == ["3", "2"]
    retry = TaskSpec(**{**leader.__dict__, "attempt": 1})
    gangs.again(settled, retry)
    again = gangs.followers(retry)
    assert [(f.task_id, f.attempt) for f in again] == [("3", 1), ("4", 1)]


def test_resume_reuses_only_whole_gangs() -> None:
    graph = graph_of(GangFlow)
    whole = {("train", (i,), 0): record(spec(str(i + 2), i)) for i in range(3)}
    start = {("start", (), 0): record(TaskSpec("GangFlow", "7", "start", "1"))}
    assert whole_gangs(graph, {**start, **whole}) == {**start, **whole}
    partial = {k: v for k, v in whole.items() if k[1] != (1,)}
    assert whole_gangs(graph, {**start, **partial}) == start
    mixed = dict(whole)
    mixed[("train", (2,), 0)] = record(spec("4", 2, attempt=1))
    assert whole_gangs(graph, mixed) == {}


def test_gang_facts_bind_current_parallel_and_export_the_environment(monkeypatch) -> None:
    for prefix in ("GRANGE_PARALLEL_", "MF_PARALLEL_"):
        for name in ("MAIN_IP", "NUM_NODES", "NODE_INDEX", "CONTROL_TASK_ID"):
            monkeypatch.delenv(prefix + name, raising=False)
    s = TaskSpec(**{**spec("3", 1).__dict__, "extra": {"parallel": {"control_task_id": "2"}}})
    facts = gang_facts(s)
    assert facts["is_parallel"] is True
    p = facts["parallel"]
    assert (p.main_ip, p.num_nodes, p.node_index, p.control_task_id) == ("127.0.0.1", 3, 1, "2")
    import os

    assert os.environ["MF_PARALLEL_NODE_INDEX"] == os.environ["GRANGE_PARALLEL_NODE_INDEX"] == "1"
    assert os.environ["MF_PARALLEL_NUM_NODES"] == "3"
    assert os.environ["MF_PARALLEL_CONTROL_TASK_ID"] == "2"
    current._bind(**facts)
    try:
        assert current.parallel.node_index == 1 and current.is_parallel
    finally:
        current._unbind()
    assert "parallel" not in current
