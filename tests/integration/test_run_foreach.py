"""A foreach over any iterable: materialized once, every item processed exactly once,
``self.input`` and ``self.index`` agreeing with the stored items; and the clear
errors of a foreach that cannot run."""

from __future__ import annotations

from typing import Any

import pytest

from grange import Flow
from support import Runner


def pairs_of(runner: Runner, kind: str, *args: str, fork: bool = True) -> tuple[Any, list[Any]]:
    """Run ForeachKindsFlow over ``kind``: (the join's stored items, [(index, input)])."""
    run_id = runner.run("foreach_kinds", "--kind", kind, *args, fork=fork).run_id
    run = Flow("ForeachKindsFlow")[run_id]
    assert run.successful
    data = run["join"].task.data
    assert [index for index, _ in data.pairs] == list(range(len(data.pairs)))
    for task in run["work"]:
        assert task.index == task.data.position
    return data.stored_items, [item for _, item in data.pairs]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("list", ["i0", "i1", "i2"]),
        ("tuple", ["i0", "i1", "i2"]),
        ("range", [0, 1, 2]),
        ("dict", ["k0", "k1", "k2"]),  # iterating a dict gives its keys
    ],
)
def test_foreach_over_ordered_iterables(runner: Runner, kind: str, expected: list[Any]) -> None:
    stored, items = pairs_of(runner, kind)
    assert items == expected
    assert list(stored) == expected


def test_foreach_over_a_generator_consumes_it_once(runner: Runner) -> None:
    stored, items = pairs_of(runner, "generator", "--size", "5")
    assert items == [0, 1, 4, 9, 16]
    # A generator can be neither pickled nor re-iterated: the artifact keeps what it gave.
    assert stored == [0, 1, 4, 9, 16]


def test_foreach_over_a_set_gives_every_item_once(runner: Runner, fork: bool) -> None:
    # Fresh interpreters hash strings with different seeds, so each would iterate
    # the set in another order: the split's items are fixed once, at the split.
    stored, items = pairs_of(runner, "set", "--size", "6", fork=fork)
    expected = {f"fruit-{n}" for n in range(6)}
    assert sorted(items) == sorted(expected)
    assert stored == expected


def test_foreach_over_a_dataframe_column(runner: Runner) -> None:
    pytest.importorskip("pandas")
    _, items = pairs_of(runner, "dataframe", "--size", "4")
    assert [int(v) for v in items] == [0, 10, 20, 30]


# Every foreach error names the flow file and the line of the self.next(..., foreach=) call.
AT_THE_NEXT_CALL = "foreach_kinds.py:44, step 'start'"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("empty", ["foreach over self.items produced zero items", "at least one item"]),
        ("scalar", ["self.items is an int, which cannot be iterated", "list, tuple, range"]),
        (
            "locks",
            ["item 0 of the foreach over self.items (_thread.lock) cannot be saved", "picklable"],
        ),
    ],
)
def test_a_foreach_that_cannot_split_fails_clearly(
    runner: Runner, kind: str, expected: list[str]
) -> None:
    result = runner.run("foreach_kinds", "--kind", kind, ok=False)
    assert result.returncode == 1
    assert "Step 'start' failed in task ForeachKindsFlow/" in result.stdout
    for text in [*expected, AT_THE_NEXT_CALL]:
        assert text in result.stdout
    run = Flow("ForeachKindsFlow")[result.run_id]
    assert run.status == "failed"
    assert [step.id for step in run] == ["start"]


def test_max_num_splits_limits_a_foreach(runner: Runner, fork: bool) -> None:
    result = runner.run(
        "foreach_kinds", "--size", "5", "--max-num-splits", "4", fork=fork, ok=False
    )
    assert result.returncode == 1
    assert "more than the limit of 4" in result.stdout
    assert "--max-num-splits" in result.stdout
    assert AT_THE_NEXT_CALL in result.stdout
    run = Flow("ForeachKindsFlow")[result.run_id]
    assert [step.id for step in run] == ["start"]  # no task of the split started
    # Exactly at the limit is fine.
    runner.run("foreach_kinds", "--size", "4", "--max-num-splits", "4", fork=fork)


def test_an_endless_generator_is_not_drained(runner: Runner) -> None:
    result = runner.run("foreach_kinds", "--kind", "endless", "--max-num-splits", "10", ok=False)
    assert "foreach over self.items has more than 10 items" in result.stdout
    assert AT_THE_NEXT_CALL in result.stdout


def test_max_num_splits_defaults_to_100000(runner: Runner) -> None:
    result = runner(
        "foreach_kinds", "run", "--help", env=runner.env(), ok=True
    )  # the help of run shows the default
    assert "--max-num-splits" in result.stdout
    assert "100000" in result.stdout
    big = runner.run("foreach_kinds", "--kind", "range", "--size", "100001", ok=False)
    assert "more than the limit of 100,000" in big.stdout
