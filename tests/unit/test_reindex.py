"""Rebuilding the metadata index from the datastore's records, and claiming run ids."""

from __future__ import annotations

import pytest

from grange.datastore import AttemptRecord, ContentAddressedStore, MemoryBlobStore, write_record
from grange.datastore.runs import (
    RunClaim,
    claim_run,
    read_claim,
    write_final,
    write_tags,
)
from grange.exceptions import DatastoreError
from grange.metastore import MetadataStore
from grange.reindex import flows_in, rebuild, start_run

FLOW = "TrainFlow"


def _record(
    blobs: MemoryBlobStore, run: str, step: str, task: str, attempt: int = 0, **kwargs: object
) -> AttemptRecord:
    cas = ContentAddressedStore(blobs, FLOW)
    record = AttemptRecord(
        flow=FLOW,
        run_id=run,
        step=step,
        task_id=task,
        attempt=attempt,
        status=kwargs.pop("status", "ok"),  # type: ignore[arg-type]
        started_at=100.0 + attempt,
        finished_at=101.0 + attempt,
        artifacts={"x": cas.save(f"{run}-{step}-{task}")},
        extra=kwargs.pop("extra", {}),  # type: ignore[arg-type]
    )
    write_record(blobs, record)
    return record


def _a_run(blobs: MemoryBlobStore, run: str, *, end: bool = True, claim: bool = True) -> None:
    if claim:
        assert claim_run(
            blobs,
            RunClaim(
                flow=FLOW,
                run_id=run,
                created_at=99.0,
                user="ada",
                tags=["exp"],
                system_tags=["user:ada", "runtime:local"],
                parameters={"alpha": 0.5},
            ),
        )
    _record(blobs, run, "_parameters", "0")
    _record(blobs, run, "start", "1", extra={"frames": []})
    _record(blobs, run, "train", "2", status="failed")
    _record(blobs, run, "train", "2", attempt=1, extra={"inputs": [f"{run}/start/1"]})
    if end:
        _record(blobs, run, "end", "3")


def test_rebuild_restores_runs_tasks_attempts_artifacts_and_tags(store: MetadataStore) -> None:
    blobs = MemoryBlobStore()
    _a_run(blobs, "1")
    write_final(blobs, FLOW, "1", status="succeeded", at=150.0)
    write_tags(blobs, FLOW, "1", ["exp", "approved"])
    _a_run(blobs, "2", end=False)
    assert flows_in(blobs) == [FLOW]
    report = rebuild(blobs, store)
    assert report.runs == [f"{FLOW}/1", f"{FLOW}/2"]
    assert (report.tasks, report.attempts) == (7, 9)
    run = store.get_run(FLOW, "1")
    assert run is not None
    assert (run.status, run.user, run.finished_at, run.parameters) == (
        "succeeded", "ada", 150.0, {"alpha": 0.5},
    )  # fmt: skip
    assert run.tags.user == {"exp", "approved"}
    assert run.tags.system == {"user:ada", "runtime:local"}
    tasks = {t.step: t for t in store.list_tasks(FLOW, "1")}
    assert set(tasks) == {"_parameters", "start", "train", "end"}
    assert list(tasks["train"].parent_task_ids) == [f"{FLOW}/1/start/1"]
    attempts = store.list_attempts(tasks["train"])
    assert [a.status for a in attempts] == ["failed", "ok"]
    (artifact,) = store.artifacts(FLOW, "1", step="train", task_id="2", attempt=1)
    assert artifact.name == "x"
    # a run with no end and no run-final.json reads as crashed once stale
    assert store.get_run(FLOW, "2").status == "crashed"  # type: ignore[union-attr]
    # the counter moved past them: a new run takes 3
    assert store.new_run(FLOW, user="ada", system_tags=["user:ada"]) == "3"


def test_rebuild_again_changes_nothing_and_fills_missing_tasks(store: MetadataStore) -> None:
    blobs = MemoryBlobStore()
    _a_run(blobs, "1")
    rebuild(blobs, store)
    again = rebuild(blobs, store)
    assert (again.runs, again.tasks) == ([], 0)
    assert again.describe() == "the index was up to date"
    _record(blobs, "1", "late", "9")  # committed after the index's last batch
    assert rebuild(blobs, store, known_runs=False).tasks == 0
    assert rebuild(blobs, store).tasks == 1
    assert "late" in {t.step for t in store.list_tasks(FLOW, "1")}


def test_runs_from_before_claims_and_damaged_records(store: MetadataStore) -> None:
    blobs = MemoryBlobStore()
    _a_run(blobs, "1", claim=False)
    blobs.put_bytes(f"{FLOW}/1/end/3/0/record.json", b"{not json", overwrite=True)
    report = rebuild(blobs, store)
    assert report.runs == [f"{FLOW}/1"] and len(report.damaged) == 1
    assert "damaged" in report.describe()
    run = store.get_run(FLOW, "1")
    assert run is not None and run.user == "unknown" and run.tags.system == {"user:unknown"}


def test_start_run_claims_the_id_and_skips_ids_the_datastore_holds(
    store: MetadataStore,
) -> None:
    blobs = MemoryBlobStore()
    _a_run(blobs, "1")
    _a_run(blobs, "2")
    notices: list[str] = []
    run_id = start_run(
        store, blobs, FLOW, user="bob", system_tags=["user:bob"], notice=notices.append
    )
    assert run_id == "3"
    assert len(notices) == 1 and "rebuilt it from the records" in notices[0]
    assert store.run_ids(FLOW) == {"1", "2", "3"}
    claim = read_claim(blobs, FLOW, "3")
    assert claim is not None and claim.user == "bob"
    # a folder that holds anything (a run from before claims) counts as taken
    blobs.put_bytes(f"{FLOW}/4/start/1/0/stdout.log", b"old")
    assert start_run(store, blobs, FLOW, user="bob", system_tags=["user:bob"]) == "5"
    assert start_run(store, blobs, FLOW, user="bob", system_tags=[], run_id="argo-1") == "argo-1"
    blobs.put_bytes(f"{FLOW}/argo-2/run.json", b"{}")  # claimed through another index
    with pytest.raises(DatastoreError, match="exists already"):
        start_run(store, blobs, FLOW, user="bob", system_tags=[], run_id="argo-2")
    assert "argo-2" not in store.run_ids(FLOW)


def test_rebuild_finishes_what_an_old_or_lagging_index_holds_as_running(
    store: MetadataStore,
) -> None:
    from grange.metastore import AttemptRow, TaskRow

    blobs = MemoryBlobStore()
    run_id = start_run(store, blobs, FLOW, user="ada", system_tags=["user:ada"])
    _record(blobs, run_id, "start", "1")
    # the index saw the task start, never its end (a runtime killed, an old copy)
    store.register_tasks([TaskRow(FLOW, run_id, "start", "1")])
    store.start_attempts([AttemptRow(FLOW, run_id, "start", "1", 0)])
    store.register_tasks([TaskRow(FLOW, run_id, "late", "2")])
    store.start_attempts([AttemptRow(FLOW, run_id, "late", "2", 0)])
    blobs.put_bytes(f"{FLOW}/{run_id}/late/2/0/stdout.log", b"still going")
    write_final(blobs, FLOW, run_id, status="failed", at=200.0)
    report = rebuild(blobs, store)
    assert report.ended == [f"{FLOW}/{run_id}"] and report.tasks == 1
    run = store.get_run(FLOW, run_id)
    assert run is not None and (run.status, run.finished_at) == ("failed", 200.0)
    tasks = {t.step: t.status for t in store.list_tasks(FLOW, run_id)}
    assert tasks["start"] == "ok"
    assert tasks["late"] == "crashed"  # no record: it never finished
    assert "ended 1 run(s)" in report.describe()
