"""Tasks and attempts: batch registration and recording, reading back, latest attempt."""

from __future__ import annotations

import time

import pytest

from grange.exceptions import MetadataError
from grange.metastore import (
    ArtifactRow,
    AttemptKey,
    AttemptRecord,
    AttemptRow,
    MetadataStore,
    TaskKey,
    TaskRow,
)

FLOW = "FanFlow"


@pytest.fixture
def run_id(store: MetadataStore) -> str:
    return store.new_run(FLOW, user="ada", system_tags=["user:ada"])


def _ended(run_id: str, step: str, task_id: str, attempt: int = 0, status: str = "ok",
           **kwargs: object) -> AttemptRow:  # fmt: skip
    return AttemptRow(FLOW, run_id, step, task_id, attempt, status=status, **kwargs)  # type: ignore[arg-type]


def test_register_tasks_creates_steps_and_pending_tasks(store: MetadataStore, run_id: str) -> None:
    store.register_tasks(
        [
            TaskRow(FLOW, run_id, "start", "1"),
            TaskRow(FLOW, run_id, "train", "2", foreach_stack=[{"step": "start", "index": 0}],
                    parent_task_ids=[f"{FLOW}/{run_id}/start/1"]),
            TaskRow(FLOW, run_id, "train", "10", origin_task=f"{FLOW}/0/train/3"),
        ]
    )  # fmt: skip
    assert {s.step for s in store.list_steps(FLOW, run_id)} == {"start", "train"}
    tasks = store.list_tasks(FLOW, run_id, step="train")
    assert [t.task_id for t in tasks] == ["2", "10"]  # natural order, not "10" < "2"
    assert all(t.status == "pending" for t in tasks)
    assert tasks[0].foreach_stack == ({"step": "start", "index": 0},)
    assert tasks[0].parent_task_ids == (f"{FLOW}/{run_id}/start/1",)
    assert tasks[1].origin_task == f"{FLOW}/0/train/3"
    assert len(store.list_tasks(FLOW, run_id)) == 3
    got = store.get_task(FLOW, run_id, step="train", task_id="2")
    assert got == tasks[0] and got.pathspec == f"{FLOW}/{run_id}/train/2"
    assert store.get_task(FLOW, run_id, step="train", task_id="99") is None


def test_a_task_id_twice_is_an_error(store: MetadataStore, run_id: str) -> None:
    store.register_tasks([TaskRow(FLOW, run_id, "start", "1")])
    with pytest.raises(MetadataError, match="registered twice"):
        store.register_tasks([TaskRow(FLOW, run_id, "start", "1")])


def test_batch_record_then_read_back(store: MetadataStore, run_id: str) -> None:
    n = 300
    store.register_tasks([TaskRow(FLOW, run_id, "train", str(i)) for i in range(n)])
    store.start_attempts([AttemptRow(FLOW, run_id, "train", str(i), 0) for i in range(n)])
    assert {t.status for t in store.list_tasks(FLOW, run_id)} == {"running"}
    store.record_attempts(
        [
            AttemptRecord(
                _ended(run_id, "train", str(i), exit_code=0),
                artifacts=[
                    ArtifactRow("model", f"k{i}", 100 + i, "object", "pickle-v5"),
                    ArtifactRow("score", f"s{i}", 8, "float", "pickle-v5"),
                ],
                metadata={"python_version": "3.11", "index": str(i)},
            )
            for i in range(n)
        ]
    )
    tasks = store.list_tasks(FLOW, run_id, step="train")
    assert len(tasks) == n and {t.status for t in tasks} == {"ok"}
    arts = store.artifacts(FLOW, run_id, step="train", task_id="7", attempt=0)
    assert arts == [
        ArtifactRow("model", "k7", 107, "object", "pickle-v5"),
        ArtifactRow("score", "s7", 8, "float", "pickle-v5"),
    ]
    meta = store.task_metadata(FLOW, run_id, step="train", task_id="7")
    assert {(m.name, m.value, m.attempt) for m in meta} == {
        ("index", "7", 0),
        ("python_version", "3.11", 0),
    }
    attempt = store.latest_attempt(TaskKey(FLOW, run_id, "train", "7"))
    assert attempt is not None
    assert (attempt.status, attempt.exit_code, attempt.successful) == ("ok", 0, True)
    assert attempt.started_at is not None and attempt.finished_at is not None
    assert attempt.started_at <= attempt.finished_at


def test_recording_keeps_the_start_time(store: MetadataStore, run_id: str) -> None:
    store.register_tasks([TaskRow(FLOW, run_id, "start", "1")])
    store.start_attempts([AttemptRow(FLOW, run_id, "start", "1", 0, started_at=100.0)])
    store.record_attempts([AttemptRecord(_ended(run_id, "start", "1", finished_at=105.0))])
    attempt = store.latest_attempt(TaskKey(FLOW, run_id, "start", "1"))
    assert attempt is not None and (attempt.started_at, attempt.finished_at) == (100.0, 105.0)


def test_recording_twice_is_idempotent(store: MetadataStore, run_id: str) -> None:
    store.register_tasks([TaskRow(FLOW, run_id, "start", "1")])
    record = AttemptRecord(
        _ended(run_id, "start", "1"), artifacts=[ArtifactRow("x", "k", 1, "int", "pickle")]
    )
    store.record_attempts([record])
    store.record_attempts([record])
    assert len(store.artifacts(FLOW, run_id, step="start", task_id="1", attempt=0)) == 1


def test_latest_attempt_is_the_highest_number(store: MetadataStore, run_id: str) -> None:
    task = TaskKey(FLOW, run_id, "train", "1")
    store.register_tasks([TaskRow(FLOW, run_id, "train", "1")])
    assert store.latest_attempt(task) is None and store.list_attempts(task) == []
    store.start_attempts([AttemptRow(FLOW, run_id, "train", "1", 0)])
    store.record_attempts(
        [AttemptRecord(_ended(run_id, "train", "1", 0, "failed", exit_code=1,
                              exception={"type": "ValueError", "message": "bad"}))]
    )  # fmt: skip
    store.start_attempts([AttemptRow(FLOW, run_id, "train", "1", 1)])
    latest = store.latest_attempt(task)
    assert latest is not None and (latest.attempt, latest.status) == (1, "running")
    store.record_attempts(
        [AttemptRecord(_ended(run_id, "train", "1", 1), [ArtifactRow("y", "k1", 1, "int", "p")])]
    )
    attempts = store.list_attempts(task)
    assert [(a.attempt, a.status) for a in attempts] == [(0, "failed"), (1, "ok")]
    assert attempts[0].exception == {"type": "ValueError", "message": "bad"}
    assert not attempts[0].successful and attempts[1].successful
    assert store.get_task(FLOW, run_id, step="train", task_id="1").status == "ok"  # type: ignore[union-attr]
    # a late record of an earlier attempt does not overwrite the task's status
    store.record_attempts([AttemptRecord(_ended(run_id, "train", "1", 0, "failed"))])
    assert store.get_task(FLOW, run_id, step="train", task_id="1").status == "ok"  # type: ignore[union-attr]
    # each attempt has its own artifacts
    assert store.artifacts(FLOW, run_id, step="train", task_id="1", attempt=0) == []
    assert [
        a.name for a in store.artifacts(FLOW, run_id, step="train", task_id="1", attempt=1)
    ] == ["y"]


def test_caught_counts_as_successful(store: MetadataStore, run_id: str) -> None:
    store.register_tasks([TaskRow(FLOW, run_id, "train", "1")])
    store.record_attempts([AttemptRecord(_ended(run_id, "train", "1", 0, "caught"))])
    attempt = store.latest_attempt(TaskKey(FLOW, run_id, "train", "1"))
    assert attempt is not None and attempt.successful


def test_unknown_attempt_status_is_refused(store: MetadataStore, run_id: str) -> None:
    with pytest.raises(MetadataError, match="cannot be recorded with status 'done'"):
        store.record_attempts([AttemptRecord(_ended(run_id, "train", "1", 0, "done"))])


def test_attempt_heartbeats(store: MetadataStore, run_id: str) -> None:
    store.register_tasks([TaskRow(FLOW, run_id, "train", "1")])
    store.start_attempts([AttemptRow(FLOW, run_id, "train", "1", 0)])
    store.heartbeat_attempts([AttemptKey(FLOW, run_id, "train", "1", 0)])
    attempt = store.latest_attempt(TaskKey(FLOW, run_id, "train", "1"))
    assert attempt is not None and attempt.heartbeat_at is not None


def test_empty_batches_do_nothing(store: MetadataStore) -> None:
    store.register_tasks([])
    store.start_attempts([])
    store.heartbeat_attempts([])
    store.record_attempts([])


def test_recording_ten_thousand_attempts(store: MetadataStore, run_id: str) -> None:
    """The benchmark's shape, read back; the figure is printed (run with -s to see it)."""
    n, batch = 10_000, 500
    store.register_tasks([TaskRow(FLOW, run_id, "train", str(i)) for i in range(n)])
    started = time.perf_counter()
    for lo in range(0, n, batch):
        store.record_attempts(
            [
                AttemptRecord(
                    _ended(run_id, "train", str(i)),
                    artifacts=[
                        ArtifactRow("a", f"ka{i}", 1, "int", "pickle"),
                        ArtifactRow("b", f"kb{i}", 1, "int", "pickle"),
                    ],
                )
                for i in range(lo, lo + batch)
            ]
        )
    seconds = time.perf_counter() - started
    print(
        f"\nrecord_attempts: {n} attempts x 2 artifacts in {seconds:.2f} s ({n / seconds:,.0f}/s)"
    )
    tasks = store.list_tasks(FLOW, run_id, step="train")
    assert len(tasks) == n and {t.status for t in tasks} == {"ok"}
    last = store.artifacts(FLOW, run_id, step="train", task_id=str(n - 1), attempt=0)
    assert [a.key for a in last] == [f"ka{n - 1}", f"kb{n - 1}"]
