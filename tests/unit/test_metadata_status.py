"""Run status: a running run whose heartbeat went stale reads as crashed, everywhere."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from grange.metastore import AttemptKey, AttemptRow, MetadataStore, TaskKey, TaskRow
from grange.metastore.status import reported_attempt_status, reported_run_status

OpenStore = Callable[..., MetadataStore]  # the ``open_store`` fixture of conftest.py

FLOW = "SlowFlow"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(open_store: OpenStore, clock: Clock) -> MetadataStore:
    return open_store(stale_after=30.0, clock=clock)


def test_stale_heartbeat_reads_as_crashed(timed: MetadataStore, clock: Clock) -> None:
    run_id = timed.new_run(FLOW, user="ada", system_tags=["user:ada"])
    clock.now += 29
    assert timed.get_run(FLOW, run_id).status == "running"  # type: ignore[union-attr]
    clock.now += 2  # 31 s after the last heartbeat
    run = timed.get_run(FLOW, run_id)
    assert run is not None
    assert (run.status, run.finished, run.successful) == ("crashed", True, False)
    assert run.finished_at == run.heartbeat_at  # the last sign of life
    assert [r.status for r in timed.list_runs(FLOW)] == ["crashed"]
    assert [r.run_id for r in timed.list_runs(FLOW, status="crashed")] == [run_id]
    assert timed.list_runs(FLOW, status="running") == []


def test_heartbeats_keep_a_run_running(timed: MetadataStore, clock: Clock) -> None:
    run_id = timed.new_run(FLOW, user="ada")
    for _ in range(10):
        clock.now += 20
        timed.heartbeat_run(FLOW, run_id)
    assert timed.get_run(FLOW, run_id).status == "running"  # type: ignore[union-attr]
    assert [r.run_id for r in timed.list_runs(FLOW, status="running")] == [run_id]


def test_a_crashed_run_that_heartbeats_again_is_running(timed: MetadataStore, clock: Clock) -> None:
    run_id = timed.new_run(FLOW, user="ada")
    clock.now += 600
    assert timed.get_run(FLOW, run_id).status == "crashed"  # type: ignore[union-attr]
    timed.heartbeat_run(FLOW, run_id)
    assert timed.get_run(FLOW, run_id).status == "running"  # type: ignore[union-attr]


def test_finished_runs_never_read_as_crashed(timed: MetadataStore, clock: Clock) -> None:
    ok = timed.new_run(FLOW, user="ada")
    failed = timed.new_run(FLOW, user="ada")
    timed.finish_run(FLOW, ok, status="succeeded")
    timed.finish_run(FLOW, failed, status="failed")
    clock.now += 10_000
    timed.heartbeat_run(FLOW, ok)  # ignored: the run is over
    assert [r.status for r in timed.list_runs(FLOW)] == ["failed", "succeeded"]
    assert all(r.finished for r in timed.list_runs(FLOW))


def test_tasks_and_attempts_of_a_crashed_run_read_as_crashed(
    timed: MetadataStore, clock: Clock
) -> None:
    run_id = timed.new_run(FLOW, user="ada")
    timed.register_tasks([TaskRow(FLOW, run_id, "train", "1"), TaskRow(FLOW, run_id, "end", "2")])
    timed.start_attempts([AttemptRow(FLOW, run_id, "train", "1", 0)])
    task = TaskKey(FLOW, run_id, "train", "1")
    assert timed.latest_attempt(task).status == "running"  # type: ignore[union-attr]
    clock.now += 31
    assert timed.latest_attempt(task).status == "crashed"  # type: ignore[union-attr]
    assert [a.status for a in timed.list_attempts(task)] == ["crashed"]
    statuses = {t.task_id: t.status for t in timed.list_tasks(FLOW, run_id)}
    assert statuses == {"1": "crashed", "2": "pending"}


def test_an_attempt_follows_its_run_not_its_own_heartbeat(
    timed: MetadataStore, clock: Clock
) -> None:
    run_id = timed.new_run(FLOW, user="ada")
    timed.register_tasks([TaskRow(FLOW, run_id, "train", "1")])
    timed.start_attempts([AttemptRow(FLOW, run_id, "train", "1", 0, heartbeat_at=clock.now)])
    timed.heartbeat_attempts([AttemptKey(FLOW, run_id, "train", "1", 0)])
    for _ in range(5):  # a long task: only the run heartbeats
        clock.now += 25
        timed.heartbeat_run(FLOW, run_id)
    attempt = timed.latest_attempt(TaskKey(FLOW, run_id, "train", "1"))
    assert attempt is not None and attempt.status == "running"
    assert attempt.heartbeat_at == clock.now - 125
    timed.finish_run(FLOW, run_id, status="failed")  # ended without recording the attempt
    assert timed.latest_attempt(TaskKey(FLOW, run_id, "train", "1")).status == "crashed"  # type: ignore[union-attr]


def test_the_threshold_is_an_argument(open_store: OpenStore, clock: Clock) -> None:
    patient = open_store(stale_after=3600.0, clock=clock)
    hasty = open_store(stale_after=1.0, clock=clock)
    run_id = patient.new_run(FLOW, user="ada")
    clock.now += 120
    assert patient.get_run(FLOW, run_id).status == "running"  # type: ignore[union-attr]
    assert hasty.get_run(FLOW, run_id).status == "crashed"  # type: ignore[union-attr]
    default = open_store(clock=clock)
    assert default.stale_after == 60.0
    assert default.get_run(FLOW, run_id).status == "crashed"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("stored", "age", "expected"),
    [("running", 10, "running"), ("running", 61, "crashed"), ("failed", 1e6, "failed"),
     ("succeeded", 1e6, "succeeded")],
)  # fmt: skip
def test_reported_run_status(stored: str, age: float, expected: str) -> None:
    assert reported_run_status(stored, 1000.0, now=1000.0 + age, stale_after=60.0) == expected


def test_reported_attempt_status() -> None:
    assert reported_attempt_status("running", run_status="running") == "running"
    assert reported_attempt_status("running", run_status="failed") == "crashed"
    assert reported_attempt_status("running", run_status="crashed") == "crashed"
    assert reported_attempt_status("ok", run_status="crashed") == "ok"
    assert reported_attempt_status("pending", run_status="crashed") == "pending"
