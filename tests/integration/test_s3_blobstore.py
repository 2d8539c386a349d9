"""S3BlobStore on the loopback moto server: the BlobStore contract and what S3 adds."""

from __future__ import annotations

from pathlib import Path

import pytest

from grange.datastore import BlobStore
from grange.datastore.s3 import S3Url
from grange.datastore.s3.blobstore import S3BlobStore
from grange.datastore.s3.cache import BlobCache
from grange.datastore.s3.settings import S3Settings
from s3contract import store_tests

pytest.importorskip("obstore")


#: Logs on S3 are uploaded whole, every few seconds and at close (tested below).
APPEND_ONLY = frozenset(
    {"test_log_sink_appends_and_read_log", "test_buffered_log_sink_flushes_on_size_and_close"}
)


@pytest.fixture
def blobs(s3_bucket: str, tmp_path: Path) -> BlobStore:
    return S3BlobStore(
        S3Url(s3_bucket, "team/grange"),
        S3Settings.from_env(),
        cache=BlobCache(tmp_path / "cache", 64 << 20),
    )


for _module in (
    "test_datastore_backend",
    "test_datastore_cas",
    "test_datastore_foreach",
    "test_datastore_records",
):
    globals().update(store_tests(_module, skip=APPEND_ONLY))


def test_url_and_describe_name_the_bucket_and_prefix(blobs: S3BlobStore) -> None:
    assert blobs.url("a/b") == f"s3://{blobs.bucket}/team/grange/a/b"
    assert blobs.describe() == f"S3 datastore at s3://{blobs.bucket}/team/grange"
    assert blobs.describe() in repr(blobs)


def test_a_location_opens_the_backend_its_root_names(
    s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grange.datastore import LocalBlobStore
    from grange.datastore.location import DatastoreLocation
    from grange.exceptions import CommandError, ConfigError

    monkeypatch.setenv("GRANGE_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("GRANGE_S3_CACHE_MB", "16")
    monkeypatch.setenv("GRANGE_S3_CONDITIONAL_PUT", "never")
    store = DatastoreLocation.of(f"s3://{s3_bucket}/team").open()
    assert isinstance(store, S3BlobStore)
    assert store.s3url == S3Url(s3_bucket, "team") and store.conditional_put == "never"
    assert store.cache is not None and store.cache.root == tmp_path / "c" / "blobs"
    assert store.cache.limit == 16 << 20
    assert isinstance(DatastoreLocation.of(tmp_path / "local").open(), LocalBlobStore)
    assert isinstance(DatastoreLocation.of(str(tmp_path / "local")).open(), LocalBlobStore)
    monkeypatch.setenv("GRANGE_S3_CACHE_MB", "0")
    assert DatastoreLocation.of(f"s3://{s3_bucket}").open().cache is None  # type: ignore[attr-defined]
    with pytest.raises(CommandError, match="valid bucket"):
        DatastoreLocation.of("s3://No_Such/x").open()
    monkeypatch.setenv("GRANGE_S3_CACHE_MB", "lots")
    with pytest.raises(ConfigError, match="GRANGE_S3_CACHE_MB"):
        DatastoreLocation.of(f"s3://{s3_bucket}").open()


def test_listings_page_through_more_than_one_answer(blobs: S3BlobStore) -> None:
    """S3 answers at most 1,000 keys at a time."""
    keys = [f"F/{i:04d}/run.json" for i in range(1010)]
    assert all(blobs.put_many([(k, [b"{}"]) for k in keys], overwrite=True))
    blobs.put_bytes("F/data/ab/abc", b"x")
    assert blobs.list("F") == sorted([*keys, "F/data/ab/abc"])
    assert blobs.children("F") == [f"{i:04d}" for i in range(1010)] + ["data"]


def test_a_store_at_the_root_of_the_bucket(s3_bucket: str) -> None:
    from grange.datastore import AttemptRecord, write_record

    store = S3BlobStore(S3Url(s3_bucket), S3Settings.from_env(), cache=None)
    write_record(store, AttemptRecord("F", "1", "start", "1", 0, "ok", 1.0, 2.0))  # probes
    store.put_bytes("G/x", b"x")
    assert store.list() == ["F/1/start/1/0/record.json", "G/x"]
    assert store.children() == ["F", "G"]
    assert store.url("G/x") == f"s3://{s3_bucket}/G/x"
    assert store.describe() == f"S3 datastore at s3://{s3_bucket}"


def test_a_store_can_be_pickled_for_another_process(blobs: S3BlobStore) -> None:
    import pickle

    blobs.put_bytes("F/data/ab/abc", b"x")
    assert blobs.get_bytes("F/data/ab/abc") == b"x"
    copy = pickle.loads(pickle.dumps(blobs))
    assert copy.describe() == blobs.describe() and copy.get_bytes("F/data/ab/abc") == b"x"
