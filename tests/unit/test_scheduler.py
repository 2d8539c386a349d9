"""The scheduler's graph walk, simulated without processes or storage."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from grange.graph import graph_of
from grange.runtime.scheduler import Outcome, Pending, Scheduler, TransitionMismatch


class Simulation:
    """Runs a flow's graph breadth-first; ``choose`` decides each task's transition."""

    def __init__(self, flow: type, choose: Callable[[Pending, int], Outcome] | None = None) -> None:
        self.graph = graph_of(flow)
        self.scheduler = Scheduler(self.graph)
        self.ids = itertools.count(1)
        self.choose = choose
        self.launched: list[tuple[str, tuple[str, ...], tuple[int, ...], int]] = []

    def default(self, pending: Pending, task_id: int) -> Outcome:
        node = self.graph[pending.step]
        count = 3 if node.foreach_var else None
        steps = node.out_funcs[:1] if node.is_switch else node.out_funcs
        return Outcome(
            str(task_id),
            pending.step,
            pending.frames,
            steps,
            pending.iteration,
            count,
            "k" if count else None,
        )

    def run(self) -> list[tuple[str, tuple[str, ...], tuple[int, ...], int]]:
        queue = [self.scheduler.first()]
        while queue:
            pending = queue.pop(0)
            task_id = next(self.ids)
            self.launched.append(
                (pending.step, pending.inputs, tuple(f.index for f in pending.frames), task_id)
            )
            outcome = (self.choose or self.default)(pending, task_id)
            queue.extend(self.scheduler.on_success(outcome))
        assert self.scheduler.waiting_joins() == {}
        return self.launched


def steps(launched: list) -> list[str]:
    return [s for s, *_ in launched]


def test_linear(valid_flow) -> None:
    launched = Simulation(valid_flow("linear")).run()
    assert launched == [
        ("start", (), (), 1),
        ("middle", ("start/1",), (), 2),
        ("end", ("middle/2",), (), 3),
    ]


def test_static_branch_joins_once_with_every_branch_in_order(valid_flow) -> None:
    launched = Simulation(valid_flow("branch")).run()
    assert steps(launched) == ["start", "a", "b", "c", "join", "end"]
    join = launched[4]
    assert join[1] == ("a/2", "b/3", "c/4")
    assert launched[1][2] == (0,) and launched[3][2] == (2,)


def test_foreach_fans_out_lazily_and_joins_all_items(valid_flow) -> None:
    sim = Simulation(valid_flow("foreach"))
    start = sim.scheduler.first()
    ready = sim.scheduler.on_success(Outcome("1", "start", (), ("work",), 0, 100_000, "k"))
    first = next(ready)  # a generator: nothing else exists yet
    assert first.step == "work" and first.frames[0].index == 0 and first.frames[0].count == 100_000
    assert start.step == "start"
    launched = Simulation(valid_flow("foreach")).run()
    assert steps(launched) == ["start", "work", "work", "work", "join", "end"]
    assert launched[4][1] == ("work/2", "work/3", "work/4")


def test_nested_foreach_joins_per_outer_item(valid_flow) -> None:
    launched = Simulation(valid_flow("nested_foreach")).run()
    inner_joins = [item for item in launched if item[0] == "inner_join"]
    assert len(inner_joins) == 3
    # each inner join gathers the 3 inner tasks of one outer item
    for join in inner_joins:
        assert len(join[1]) == 3
        assert len(join[2]) == 1  # still inside the outer foreach
    outer_join = next(item for item in launched if item[0] == "outer_join")
    assert len(outer_join[1]) == 3 and outer_join[2] == ()
    assert sum(1 for item in launched if item[0] == "inner") == 9


def test_switch_runs_only_the_chosen_case(valid_flow) -> None:
    def choose(pending: Pending, task_id: int) -> Outcome:
        nxt = {"start": ("tails",), "tails": ("after",), "after": ("end",), "end": ()}[pending.step]
        return Outcome(str(task_id), pending.step, pending.frames, nxt, pending.iteration)

    launched = Simulation(valid_flow("switch"), choose).run()
    assert steps(launched) == ["start", "tails", "after", "end"]


def test_switch_loop_counts_iterations(valid_flow) -> None:
    def choose(pending: Pending, task_id: int) -> Outcome:
        if pending.step == "loop":
            nxt = ("loop",) if pending.iteration < 2 else ("end",)
        else:
            nxt = {"start": ("loop",), "end": ()}[pending.step]
        return Outcome(str(task_id), pending.step, pending.frames, nxt, pending.iteration)

    launched = Simulation(valid_flow("switch_loop"), choose).run()
    assert steps(launched) == ["start", "loop", "loop", "loop", "end"]
    loops = [item for item in launched if item[0] == "loop"]
    assert [item[1] for item in loops] == [("start/1",), ("loop/2",), ("loop/3",)]


def test_undeclared_transition_is_refused(valid_flow) -> None:
    scheduler = Scheduler(graph_of(valid_flow("linear")))
    with pytest.raises(TransitionMismatch, match="went to end"):
        list(scheduler.on_success(Outcome("1", "start", (), ("end",))))


def test_switch_must_choose_one_case(valid_flow) -> None:
    scheduler = Scheduler(graph_of(valid_flow("switch")))
    with pytest.raises(TransitionMismatch, match="exactly one"):
        list(scheduler.on_success(Outcome("1", "start", (), ("heads", "tails"))))
