"""Class attributes of a flow are constants, as in Metaflow (its core test ConstantsTest)."""

from __future__ import annotations

from grange import Run
from support import Runner


def test_constants_are_stored_read_only_and_in_every_task(runner: Runner, fork: bool) -> None:
    result = runner.run("constants", fork=fork, ok=False)
    assert "limit 123" in result.output
    assert "'limit' is a constant of the flow" in result.output  # del self.limit in end
    assert "constants.py:37" in result.output
    run = Run(f"ConstantsRunFlow/{result.run_id}")
    start = run["start"].task
    assert "'limit' is a constant of the flow" in start.data.refused
    assert start.data.seen == (123, ["a", "b"], 0.5)
    for step in ("start", "a", "b", "join"):
        task = run[step].task
        assert (task.data.limit, task.data.names, task.data.alpha) == (123, ["a", "b"], 0.5)
