"""``sync``: the runs the index lacks and the tasks of unfinished ones are indexed; what the
index has as finished is not read; a run with a live runtime is left to it."""

from __future__ import annotations

import pytest
from test_reindex import FLOW, _a_run, _record

from grange.datastore import MemoryBlobStore
from grange.datastore.runs import write_final
from grange.metastore import AttemptRow, MetadataStore, TaskRow
from grange.metastore.liveness import current_process
from grange.reindex import (
    index_missing_runs,
    index_stored_run,
    missing_runs,
    rebuild,
    start_run,
    sync,
)


class CountingBlobs(MemoryBlobStore):
    """A datastore that counts the listings of each run's files."""

    def __init__(self) -> None:
        super().__init__()
        self.listed: list[str] = []

    def list(self, prefix: str = "") -> list[str]:
        self.listed.append(prefix)
        return super().list(prefix)


def test_sync_adds_missing_runs_and_prints_them(store: MetadataStore) -> None:
    blobs = CountingBlobs()
    _a_run(blobs, "1")
    write_final(blobs, FLOW, "1", status="succeeded", at=150.0)
    rebuild(blobs, store)
    _a_run(blobs, "2")  # its tasks ran where the database could not be reached
    _a_run(blobs, "3", end=False)
    assert missing_runs(blobs, store, FLOW) == ["2", "3"]
    blobs.listed.clear()
    report = sync(blobs, store)
    assert report.runs == [f"{FLOW}/2", f"{FLOW}/3"]
    assert f"{FLOW}/1/" not in blobs.listed  # a finished run is not read again
    assert {t.step for t in store.list_tasks(FLOW, "2")} == {"_parameters", "start", "train", "end"}
    assert sync(blobs, store).describe() == "the index was up to date"


def test_sync_fills_the_tasks_of_an_unfinished_run_but_not_a_live_one(
    store: MetadataStore,
) -> None:
    blobs = MemoryBlobStore()
    crashed = start_run(store, blobs, FLOW, user="ada", system_tags=["user:ada"])
    store.register_tasks([TaskRow(FLOW, crashed, "start", "1")])
    store.start_attempts([AttemptRow(FLOW, crashed, "start", "1", 0)])
    _record(blobs, crashed, "start", "1")
    _record(blobs, crashed, "pod", "2")  # a task that wrote only its record
    store.heartbeat_run(FLOW, crashed)
    live = start_run(
        store, blobs, FLOW, user="ada", system_tags=["user:ada"], process=current_process()
    )
    _record(blobs, live, "start", "1")  # its runtime will index it: leave it alone
    store.stale_after = 0.0  # the first run's heartbeat is old now; the live one's process runs
    report = sync(blobs, store)
    assert report.tasks == 2 and report.runs == []
    assert {t.step: t.status for t in store.list_tasks(FLOW, crashed)} == {
        "start": "ok",
        "pod": "ok",
    }
    assert store.list_tasks(FLOW, live) == []
    assert rebuild(blobs, store).live == [f"{FLOW}/{live}"]
    assert "left 1 running run(s) to their runtime" in rebuild(blobs, store).describe()


def test_readers_index_a_flow_or_one_run(store: MetadataStore) -> None:
    blobs = MemoryBlobStore()
    _a_run(blobs, "1")
    _a_run(blobs, "7")
    assert index_stored_run(blobs, store, FLOW, "7").runs == [f"{FLOW}/7"]
    assert index_stored_run(blobs, store, FLOW, "8").runs == []  # nothing stored
    assert index_stored_run(blobs, store, FLOW, "../x").runs == []  # never a path
    assert index_missing_runs(blobs, store, FLOW).runs == [f"{FLOW}/1"]
    assert index_missing_runs(blobs, store, FLOW).runs == []
    assert store.run_ids(FLOW) == {"1", "7"}


def test_a_run_indexed_meanwhile_is_left_to_whoever_indexed_it(
    store: MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = MemoryBlobStore()
    _a_run(blobs, "1")
    real = store.restore_run

    def raced(run, **kwargs):  # type: ignore[no-untyped-def]
        real(run, **kwargs)  # its runtime registered it first
        store.register_tasks([TaskRow(FLOW, "1", "start", "1")])
        return real(run, **kwargs)

    monkeypatch.setattr(store, "restore_run", raced)
    report = index_missing_runs(blobs, store, FLOW)
    assert report.runs == [] and report.tasks == 0
    assert [t.step for t in store.list_tasks(FLOW, "1")] == ["start"]


def test_a_flow_whose_only_folder_is_a_run_is_synced(store: MetadataStore) -> None:
    """A flow that saved no artifact has no data/ folder: its one run is still found."""
    blobs = MemoryBlobStore()
    _a_run(blobs, "1")
    for key in blobs.list(f"{FLOW}/data"):
        blobs.delete(key)
    assert blobs.children(FLOW) == ["1"]
    assert missing_runs(blobs, store, FLOW) == ["1"]
