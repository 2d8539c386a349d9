"""Every graph shape runs through ``python flow.py run`` and reads back through the client.

Linear, static branches (nested too), foreach, nested foreach, switch and a
looping switch; the small ones with both launchers (fork server and
``--no-fork`` fresh interpreters), which must agree.
"""

from __future__ import annotations

import pytest

from grange import Flow, Run
from support import FLOWS, Runner


def step_names(run: Run) -> set[str]:
    return {step.id for step in run}


def test_linear_flow_keeps_every_artifact(runner: Runner, fork: bool) -> None:
    result = runner.run("linear", fork=fork)
    run = Flow("LinearRunFlow")[result.run_id]
    assert run.successful and run.finished and run.status == "succeeded"
    assert step_names(run) == {"start", "middle", "end"}
    assert run.data.counter == 20
    assert run["middle"].task.data.kept_seen is True
    # An unchanged artifact is referenced, not rewritten: one blob, one key.
    kept = {step: run[step].task["kept"].sha for step in ("start", "middle", "end")}
    assert len(set(kept.values())) == 1
    assert run["end"].task["kept"].data == {"same": [1, 2, 3]}
    # Private artifacts are persisted too.
    assert run["start"].task["_private"].data == "hidden"
    assert {a.id for a in run["start"].task} >= {"kept", "counter"}


def test_identical_values_are_stored_once_across_runs(runner: Runner) -> None:
    first_id = runner.run("linear").run_id
    first = Flow("LinearRunFlow")[first_id]
    second_id = runner.run("linear").run_id
    second = Flow("LinearRunFlow")[second_id]
    assert first["start"].task["kept"].sha == second["start"].task["kept"].sha
    blobs = list((runner.root / "LinearRunFlow" / "data").rglob("*"))
    names = [b.name for b in blobs if b.is_file()]
    assert len(names) == len(set(names))
    assert not [n for n in names if n.startswith(".")]  # no temp file left behind


def test_static_branches_run_both_and_join(runner: Runner, fork: bool) -> None:
    run_id = runner.run("branches", fork=fork).run_id
    run = Flow("BranchRunFlow")[run_id]
    assert step_names(run) == {"start", "one", "two", "join", "end"}
    join = run["join"].task.data
    assert join.by_name == (1, 2)
    assert join.in_order == [1, 2]
    assert join.branches == 2
    assert run["one"].task.data.base_in_branch == "from start"


def test_nested_static_branches(runner: Runner) -> None:
    result = runner.run(FLOWS / "valid" / "nested_branch.py")
    run = Flow("NestedBranchFlow")[result.run_id]
    assert run.successful
    assert step_names(run) == {
        "start", "outer_a", "outer_b", "inner_a", "inner_b", "inner_join", "outer_join", "end",
    }  # fmt: skip
    assert all(len(list(step)) == 1 for step in run)


def test_nested_foreach_joins_per_outer_item(runner: Runner, fork: bool) -> None:
    run_id = runner.run("nested_foreach", fork=fork).run_id
    run = Flow("NestedForeachRunFlow")[run_id]
    assert run.data.grid == [["x1", "x2", "x3"], ["y1", "y2", "y3"]]
    assert len(list(run["mid"])) == 2
    assert len(list(run["join_inner"])) == 2
    leaves = sorted((t.data.stack for t in run["leaf"]), key=str)
    assert len(leaves) == 6
    assert [(0, 2, "x"), (1, 3, 2)] in leaves
    assert [(1, 2, "y"), (2, 3, 3)] in leaves
    for task in run["leaf"]:
        assert task.data.position == task.data.stack[-1][0]
        assert task.index == task.data.position


def test_switch_runs_only_the_chosen_case(runner: Runner, fork: bool) -> None:
    heads_id = runner.run("switch", fork=fork).run_id
    heads = Flow("SwitchRunFlow")[heads_id]
    assert step_names(heads) == {"start", "heads", "after", "end"}
    assert heads["heads"].task.data.ran == "heads"
    tails_id = runner.run("switch", "--coin", "tails", fork=fork).run_id
    tails = Flow("SwitchRunFlow")[tails_id]
    assert step_names(tails) == {"start", "tails", "after", "end"}
    assert tails.data.ran == "tails"


def test_switch_loop_iterates(runner: Runner) -> None:
    run_id = runner.run("switch_loop", "--rounds", "4").run_id
    run = Flow("LoopRunFlow")[run_id]
    loops = list(run["loop"])
    assert len(loops) == 4  # each iteration is a new task of the same step
    assert len({t.id for t in loops}) == 4
    assert run.data.history == [1, 2, 3, 4]
    assert run.data.more == "done"


@pytest.mark.slow
def test_one_thousand_way_foreach(runner: Runner) -> None:
    result = runner.run("foreach_kinds", "--kind", "range", "--size", "1000")
    assert "1003 task(s) run" in result.stdout
    run = Flow("ForeachKindsFlow")[result.run_id]
    pairs = run.data.pairs
    assert [p for p, _ in pairs] == list(range(1000))
    assert [g for _, g in pairs] == list(range(1000))
    assert len(list(run["work"])) == 1000


def test_changing_a_value_read_through_data_never_changes_the_next_read(
    runner: Runner,
) -> None:
    """As in Metaflow: each read of ``task.data.x`` loads the artifact afresh."""
    run_id = runner.run("linear").run_id
    run = Flow("LinearRunFlow")[run_id]
    task = run["start"].task
    data = task.data
    data.kept["same"].append(4)
    task.data.kept["added"] = True
    assert data.kept == {"same": [1, 2, 3]}
    assert task.data.kept == {"same": [1, 2, 3]}
    assert run.data.kept == {"same": [1, 2, 3]}
