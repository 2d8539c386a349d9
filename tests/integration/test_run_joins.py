"""Joins: ``inputs`` (iterable, indexable, by branch name), a join starts empty except
for parameters, and ``merge_artifacts`` with include=/exclude= and its errors."""

from __future__ import annotations

import pytest

from grange import Flow
from grange.testing import run_step
from support import RUN_FLOWS, Runner, load_flow


def test_join_reads_branches_and_inherits_only_parameters(runner: Runner) -> None:
    run_id = runner.run("branches", "--weight", "7").run_id
    run = Flow("BranchRunFlow")[run_id]
    join = run["join"].task
    assert join.data.by_name == (1, 2)  # inputs.one.x, inputs.two.x
    assert join.data.in_order == [1, 2]  # for i in inputs
    assert join.data.by_index == 2  # inputs[1]
    assert join.data.branches == 2
    # Nothing comes from the branches (nor from before the split)...
    assert join.data.join_has_base is False
    assert join.data.join_has_x is False
    assert "base" not in join and "x" not in join
    assert run.data.end_has_x is False
    # ...except the parameters.
    assert join.data.weight_in_join == 7
    assert join["weight"].data == 7


MERGE_FLOW = load_flow(RUN_FLOWS / "merge.py")
# What branches a and b of MergeRunFlow arrive with (as its start, a and b set them).
BRANCHES = {
    "a": {"shared": ["same", "in", "both"], "x": 1, "only_a": "a"},
    "b": {"shared": ["same", "in", "both"], "x": 2},
}


def merged(mode: str) -> set[str]:
    """The join's artifacts, run alone on the branches' artifacts (grange.testing)."""
    result = run_step(MERGE_FLOW, "join", BRANCHES, {"mode": mode})
    return set(result) - {"mode"}


def test_merge_artifacts_exclude() -> None:
    assert merged("exclude") == {"shared", "only_a"}


def test_merge_artifacts_include() -> None:
    assert merged("include") == {"shared"}


def test_merge_artifacts_keeps_what_the_join_set(runner: Runner) -> None:
    assert merged("preset") == {"shared", "only_a", "x"}
    runner.run("merge", "--mode", "preset")
    run = Flow("MergeRunFlow").latest_run
    assert run is not None
    assert run.data.x == 0
    assert run.data.shared == ["same", "in", "both"]
    # Merged by reference: the join points at the branch's blob.
    assert run["join"].task["shared"].sha == run["a"].task["shared"].sha


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        pytest.param(
            "conflict",
            ["cannot merge artifact 'x'", "a/", "b/", "exclude=['x']"],
            id="conflict",
        ),
        pytest.param("missing", ["include=", "nowhere", "which no branch has"], id="missing"),
        pytest.param("both", ["include= or exclude=, not both"], id="include-and-exclude"),
        pytest.param("outside", ["only be called in a join step"], id="outside-a-join"),
    ],
)
def test_merge_artifacts_errors_are_clear(runner: Runner, mode: str, expected: list[str]) -> None:
    result = runner.run("merge", "--mode", mode, ok=False)
    assert result.returncode == 1
    step = "end" if mode == "outside" else "join"
    summary = result.stdout[result.stdout.index(f"Run MergeRunFlow/{result.run_id} FAILED") :]
    assert f"Step '{step}' failed" in summary
    for text in expected:
        assert text in summary
    run = Flow("MergeRunFlow")[result.run_id]
    assert run.status == "failed"
    task = run[step].task
    assert not task.successful
    assert task.exception is not None and task.exception.type == "grange.task.context.MergeError"
    # The failed attempt keeps what it had (the parameter), and nothing was merged.
    assert [a.id for a in task] == ["mode"]


def test_a_foreach_join_reads_each_inputs_index(runner: Runner) -> None:
    run_id = runner.run("foreach_index").run_id
    join = Flow("ForeachIndexRunFlow")[run_id]["join"].task
    assert join.data.pairs == [(0, "a"), (1, "b"), (2, "c")]  # input.index, as in Metaflow
