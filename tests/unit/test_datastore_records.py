"""Attempt records and logs: layout, round trips, visibility only once complete."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grange.datastore import (
    ArtifactRef,
    AttemptRecord,
    BlobStore,
    LocalBlobStore,
    LogSink,
    MemoryBlobStore,
    TaskPaths,
    latest_record,
    list_attempts,
    log_key,
    read_log,
    read_record,
    write_record,
)
from grange.exceptions import DatastoreError, RecordExistsError


@pytest.fixture(params=["memory", "local"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "memory":
        return MemoryBlobStore()
    return LocalBlobStore(tmp_path / "store")


def record(attempt: int = 0, status: str = "ok", **extra: object) -> AttemptRecord:
    return AttemptRecord(
        flow="TrainFlow",
        run_id="1700000000000001",
        step="train",
        task_id="7",
        attempt=attempt,
        status=status,  # type: ignore[arg-type]  # a str, to test the check
        started_at=1700000000.25,
        finished_at=1700000003.5,
        artifacts={
            "model": ArtifactRef("ab" * 20, 1234, "gpickle5", "sklearn.linear_model.Ridge"),
            "alpha": ArtifactRef("cd" * 20, 40, "gpickle5", "float"),
        },
        exception=None
        if status == "ok"
        else {"type": "ValueError", "message": "bad", "traceback": "Traceback..."},
        extra=dict(extra),
    )


def test_paths_of_an_attempt() -> None:
    paths = TaskPaths("TrainFlow", "r1", "train", "7", 2)
    assert paths.prefix == "TrainFlow/r1/train/7/2"
    assert paths.record == "TrainFlow/r1/train/7/2/record.json"
    assert paths.stdout == "TrainFlow/r1/train/7/2/stdout.log"
    assert paths.stderr == "TrainFlow/r1/train/7/2/stderr.log"
    assert log_key("TrainFlow", "r1", "train", "7", 2, "stderr") == paths.stderr
    with pytest.raises(ValueError):
        paths.log("stdin")
    for bad in (("F", "r/1", "s", "t", 0), ("F", "r", ".s", "t", 0), ("F", "r", "s", "t", -1)):
        with pytest.raises(ValueError):
            TaskPaths(*bad)


def test_record_round_trips_through_json() -> None:
    rec = record(
        1, "failed", foreach_stack=[{"step": "start", "index": 3, "count": 10}], next="join"
    )
    again = AttemptRecord.from_json(rec.to_json())
    assert again == rec
    assert again.artifacts["model"].type == "sklearn.linear_model.Ridge"


def test_invalid_status_and_unknown_format_are_refused() -> None:
    with pytest.raises(ValueError, match="status"):
        record(status="maybe")
    with pytest.raises(ValueError, match="format"):
        AttemptRecord.from_json('{"format": 99}')


def test_write_then_read(blobs: BlobStore) -> None:
    rec = record()
    assert read_record(blobs, "TrainFlow", "1700000000000001", "train", "7", 0) is None
    assert write_record(blobs, rec) is True
    assert read_record(blobs, "TrainFlow", "1700000000000001", "train", "7", 0) == rec
    assert blobs.list("TrainFlow") == ["TrainFlow/1700000000000001/train/7/0/record.json"]


def test_a_committed_record_is_not_replaced_unless_asked(blobs: BlobStore) -> None:
    write_record(blobs, record())
    with pytest.raises(RecordExistsError, match="has a record already") as info:
        write_record(blobs, record(status="failed"))
    assert "grange db rebuild" in info.value.render()
    assert read_record(blobs, "TrainFlow", "1700000000000001", "train", "7", 0).status == "ok"  # type: ignore[union-attr]
    assert write_record(blobs, record(status="failed"), overwrite=True) is True


def test_a_record_interrupted_mid_write_is_invisible(blobs: BlobStore) -> None:
    rec = record()
    payload = rec.to_json().encode()

    def crashing() -> Iterator[bytes]:
        yield payload[:10]
        raise KeyboardInterrupt  # the task is killed while committing

    with pytest.raises(KeyboardInterrupt):
        blobs.put_chunks(rec.paths.record, crashing())
    assert read_record(blobs, "TrainFlow", rec.run_id, "train", "7", 0) is None
    assert list_attempts(blobs, "TrainFlow", rec.run_id, "train", "7") == []


def test_a_stray_temp_file_is_not_a_record(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    rec = record()
    folder = tmp_path / rec.paths.prefix
    folder.mkdir(parents=True)
    (folder / ".record.json.tmp-123-abcdef").write_bytes(rec.to_json().encode()[:20])
    assert list_attempts(blobs, "TrainFlow", rec.run_id, "train", "7") == []
    assert read_record(blobs, "TrainFlow", rec.run_id, "train", "7", 0) is None


def test_list_attempts_counts_committed_ones_only(blobs: BlobStore) -> None:
    for attempt in (0, 2, 10):
        write_record(blobs, record(attempt, "failed" if attempt < 10 else "ok"))
    blobs.append_bytes(TaskPaths("TrainFlow", "1700000000000001", "train", "7", 11).stdout, b"x")
    blobs.put_bytes("TrainFlow/1700000000000001/train/7/notes/record.json", b"{}")
    assert list_attempts(blobs, "TrainFlow", "1700000000000001", "train", "7") == [0, 2, 10]
    assert list_attempts(blobs, "TrainFlow", "1700000000000001", "train", "8") == []
    latest = latest_record(blobs, "TrainFlow", "1700000000000001", "train", "7")
    assert latest is not None and latest.attempt == 10 and latest.status == "ok"
    assert latest_record(blobs, "TrainFlow", "1700000000000001", "train", "8") is None


def test_log_sink_appends_and_read_log(blobs: BlobStore) -> None:
    key = log_key("F", "r", "s", "1", 0, "stdout")
    assert read_log(blobs, key) == b""
    with LogSink(blobs, key) as sink:
        assert sink.write(b"line one\n") == 9
        assert read_log(blobs, key) == b"line one\n"  # unbuffered: visible at once
        sink.writelines([b"two\n", bytearray(b"three\n")])
    assert read_log(blobs, key) == b"line one\ntwo\nthree\n"
    with pytest.raises(ValueError, match="closed"):
        sink.write(b"late\n")


def test_buffered_log_sink_flushes_on_size_and_close(blobs: BlobStore) -> None:
    key = log_key("F", "r", "s", "1", 0, "stderr")
    sink = LogSink(blobs, key, buffer_size=10)
    sink.write(b"abc\n")
    assert read_log(blobs, key) == b""
    sink.write(b"defghijk\n")
    assert read_log(blobs, key) == b"abc\ndefghijk\n"
    sink.write(b"tail\n")
    sink.close()
    sink.close()
    assert read_log(blobs, key) == b"abc\ndefghijk\ntail\n"


def test_a_damaged_record_is_an_error_naming_it(blobs: BlobStore) -> None:
    rec = record()
    blobs.put_bytes(rec.paths.record, b'{"format": 1, broken')
    with pytest.raises(DatastoreError, match=r"the record TrainFlow/.*/record.json .* is damaged"):
        read_record(blobs, rec.flow, rec.run_id, rec.step, rec.task_id, 0)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"[]", "a record is a JSON object, not list"),
        (b"null", "not NoneType"),
        (b'{"format": 1}', "KeyError"),
        (b'{"format": 2}', "unknown attempt record format"),
    ],
)
def test_a_record_of_the_wrong_shape_is_named_not_a_traceback(
    blobs: BlobStore, payload: bytes, reason: str
) -> None:
    key = record().paths.record
    blobs.put_bytes(key, payload)
    with pytest.raises(DatastoreError, match="is damaged") as info:
        read_record(blobs, "TrainFlow", "1700000000000001", "train", "7", 0)
    assert reason in info.value.message and key in info.value.message


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"artifacts": []}, "'list' object has no attribute 'items'"),
        ({"extra": 5}, "'extra' is int"),
        ({"exception": "boom"}, "'exception' is str"),
        (
            {"run_id": "1700000000000002"},
            "it is the record of TrainFlow/1700000000000002/train/7/0",
        ),
    ],
)
def test_a_record_with_wrong_fields_or_in_the_wrong_folder_is_damaged(
    blobs: BlobStore, change: dict[str, object], reason: str
) -> None:
    import json

    data = json.loads(record().to_json())
    data.update(change)
    blobs.put_bytes(record().paths.record, json.dumps(data).encode())
    with pytest.raises(DatastoreError, match="is damaged") as info:
        read_record(blobs, "TrainFlow", "1700000000000001", "train", "7", 0)
    assert reason in info.value.message


def test_concurrent_tag_changes_all_reach_the_datastore() -> None:
    """Six processes tagging one run at once (each with its own index, on S3): every
    change ends up in run-tags.json, none is lost to a concurrent whole-file write."""
    import threading

    from grange.datastore import MemoryBlobStore
    from grange.datastore.runs import read_tags, update_tags

    blobs = MemoryBlobStore()
    barrier = threading.Barrier(6)

    def tag(n: int) -> None:
        barrier.wait()
        update_tags(blobs, "F", "1", remove=[], add=[f"t{n}"], start=["base"])

    threads = [threading.Thread(target=tag, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert read_tags(blobs, "F", "1") == ["base", *(f"t{n}" for n in range(6))]
    update_tags(blobs, "F", "1", remove=["t3"], add=[], start=[])
    assert "t3" not in (read_tags(blobs, "F", "1") or [])
