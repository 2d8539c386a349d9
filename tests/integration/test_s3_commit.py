"""Create-only puts on S3: records and run claims are written once, in both commit modes."""

from __future__ import annotations

import pytest

from grange.datastore import AttemptRecord, write_record
from grange.datastore.runs import RunClaim, claim_run
from grange.datastore.s3 import S3Settings, S3Url, commit
from grange.datastore.s3.blobstore import S3BlobStore
from grange.exceptions import ConfigError, RecordExistsError
from s3proxy import S3Proxy
from s3server import MotoServer

obstore = pytest.importorskip("obstore")


def _record(attempt: int = 0) -> AttemptRecord:
    return AttemptRecord("F", "1", "start", "1", attempt, "ok", 1.0, 2.0)


@pytest.mark.parametrize("mode", ["always", "never", "auto"])
def test_a_record_is_written_once_in_every_mode(s3_bucket: str, mode: str) -> None:
    store = S3BlobStore(S3Url(s3_bucket, "p"), S3Settings.from_env(), conditional_put=mode)
    assert write_record(store, _record())
    with pytest.raises(RecordExistsError, match="has a record already"):
        write_record(store, _record())
    claim = RunClaim("F", "7", 1.0, "me")
    assert claim_run(store, claim)
    assert not claim_run(store, RunClaim("F", "7", 2.0, "you"))
    assert store.list("F/7") == ["F/7/run.json"]


def test_moto_honours_conditional_puts_and_the_probe_leaves_nothing(s3_bucket: str) -> None:
    store = S3BlobStore(S3Url(s3_bucket, "p"), S3Settings.from_env())
    assert commit.honours_create(store._store, s3_bucket, "p", None, "auto")
    assert write_record(store, _record())
    assert store.list("") == ["F/1/start/1/0/record.json"]
    raw = obstore.list(store._store, "p").collect()
    assert [m["path"] for m in raw] == ["p/F/1/start/1/0/record.json"]  # probe deleted


def test_without_conditional_puts_a_lost_race_is_detected_by_the_nonce(
    s3_server: MotoServer, s3_bucket: str
) -> None:
    """Writer A puts its record; writer B, whose HEAD also found the key free,
    puts its own before A reads back: A sees B's nonce and reports the key taken."""
    proxy = S3Proxy(s3_server.url)
    settings = S3Settings.from_env()
    a = S3BlobStore(
        S3Url(s3_bucket, "p"), settings.with_(endpoint_url=proxy.url), conditional_put="never"
    )
    b = S3BlobStore(S3Url(s3_bucket, "p"), settings, conditional_put="never")
    key = "F/1/start/1/0/record.json"

    def b_overwrites(head: bytes) -> None:
        if head.startswith(b"PUT ") and b"record.json" in head.split(b"\r\n", 1)[0]:
            proxy.after_request = None
            obstore.put(b._store, f"p/{key}", b"B", attributes={commit.NONCE: "b"})

    proxy.after_request = b_overwrites
    try:
        assert a.put_bytes(key, b"A") is False  # lost: B's bytes are the record
    finally:
        proxy.close()
    assert b.get_bytes(key) == b"B"


def test_the_mode_comes_from_the_environment() -> None:
    assert commit.mode_from_env({}) == "auto"
    assert commit.mode_from_env({"GRANGE_S3_CONDITIONAL_PUT": "Never"}) == "never"
    with pytest.raises(ConfigError, match="GRANGE_S3_CONDITIONAL_PUT='sometimes'"):
        commit.mode_from_env({"GRANGE_S3_CONDITIONAL_PUT": "sometimes"})


def test_put_many_writes_small_blobs_concurrently_and_skips_stored_ones(s3_bucket: str) -> None:
    store = S3BlobStore(S3Url(s3_bucket, "p"), S3Settings.from_env().with_(max_concurrency=4))
    keys = [f"F/data/{i:02x}/{i:02x}{'0' * 38}" for i in range(40)]
    assert store.put_bytes(keys[0], b"first")
    written = store.put_many([(k, [b"blob ", str(i).encode()]) for i, k in enumerate(keys)])
    assert written == [False] + [True] * 39
    assert store.get_bytes(keys[0]) == b"first"
    assert store.get_bytes(keys[5]) == b"blob 5"
    record = "F/1/start/1/0/record.json"
    assert store.put_many([(record, [b"{}"]), (record, [b"{!}"])]) == [True, False]
    assert store.put_many([(record, [b"{!}"])], overwrite=True) == [True]
    assert store.get_bytes(record) == b"{!}"
    # One key twice in a batch: as if written one after the other.
    log = "F/1/start/1/0/stdout.log"
    assert store.put_many([(log, [b"1"]), (log, [b"2"])], overwrite=True) == [True, True]
    assert store.get_bytes(log) == b"2"
    blob = f"F/data/ff/ff{'1' * 38}"
    assert store.put_many([(blob, [b"same"]), (blob, [b"same"])]) == [True, False]


def test_put_many_inside_a_running_event_loop(s3_bucket: str) -> None:
    import asyncio

    store = S3BlobStore(S3Url(s3_bucket, "p"), S3Settings.from_env())

    async def main() -> list[bool]:
        return store.put_many([("F/x", [b"1"]), ("F/y", [b"2"])], overwrite=True)

    assert asyncio.run(main()) == [True, True]
    assert store.list("F") == ["F/x", "F/y"]


def test_a_steps_small_artifacts_are_saved_in_one_batch(
    s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import grange.datastore.cas as cas_module
    from grange.datastore import ContentAddressedStore

    store = S3BlobStore(S3Url(s3_bucket, "p"), S3Settings.from_env())
    batches: list[int] = []
    put_many = store.put_many

    def counting(items, **kwargs):  # type: ignore[no-untyped-def]
        items = list(items)
        batches.append(len(items))
        return put_many(items, **kwargs)

    store.put_many = counting  # type: ignore[method-assign]
    cas = ContentAddressedStore(store, "F")
    values: dict[str, object] = {f"a{i}": list(range(i)) for i in range(30)}
    values["again"] = values["a3"]
    values["stream"] = (i for i in range(3))  # cannot be pickled
    skipped: list[str] = []
    refs = cas.save_many(values, step="train", on_error=lambda name, err: skipped.append(name))
    assert batches == [30] and skipped == ["stream"]
    assert refs["again"] == refs["a3"] and "stream" not in refs
    assert all(cas.load(refs[f"a{i}"].key) == list(range(i)) for i in range(30))
    assert cas.save_many({"b": list(range(5))}) == {"b": refs["a5"]}  # stored: not rewritten
    # Batches are bounded in bytes: the serialized values wait in memory until written.
    monkeypatch.setattr(cas_module, "BATCH_BYTES", 2000)
    batches.clear()
    cas.save_many({f"c{i}": "c" * 900 + str(i) for i in range(5)})
    assert batches == [3, 2]
