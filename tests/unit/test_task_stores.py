"""Which record of a parent task a task reads: its last successful attempt."""

from __future__ import annotations

import pytest

from grange.datastore import AttemptRecord, MemoryBlobStore, write_record
from grange.task.stores import MissingInputError, TaskStores


def _commit(blobs: MemoryBlobStore, attempt: int, status: str) -> None:
    record = AttemptRecord(
        flow="F",
        run_id="1",
        step="train",
        task_id="7",
        attempt=attempt,
        status=status,  # type: ignore[arg-type]
        started_at=0.0,
        finished_at=1.0,
    )
    write_record(blobs, record)


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [
        ([("ok")], 0),
        (["failed", "ok"], 1),
        (["failed", "failed", "ok"], 2),
        # An attempt can commit "ok" and still be retried (killed by @timeout
        # right after, or a crash at exit): the later success is the one.
        (["ok", "ok"], 1),
    ],
)
def test_the_last_successful_attempt_is_read(attempts: list[str], expected: int) -> None:
    blobs = MemoryBlobStore()
    for attempt, status in enumerate(attempts):
        _commit(blobs, attempt, status)
    assert TaskStores(blobs, "F").final_record("F", "1", "train", "7").attempt == expected


def test_a_parent_without_success_is_an_error_naming_it() -> None:
    blobs = MemoryBlobStore()
    _commit(blobs, 0, "failed")
    with pytest.raises(MissingInputError, match="F/1/train/7 has no successful attempt"):
        TaskStores(blobs, "F").final_record("F", "1", "train", "7")
