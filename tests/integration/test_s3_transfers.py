"""Big blobs through S3: memory stays bounded, the cache serves repeats, a kill leaves nothing."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grange.datastore import ContentAddressedStore
from grange.datastore.s3 import S3Settings, S3Url
from grange.datastore.s3.blobstore import S3BlobStore
from grange.datastore.s3.cache import BlobCache
from grange.exceptions import DamagedBlobError
from s3server import MotoServer

pytest.importorskip("obstore")
np = pytest.importorskip("numpy")

MIB = 1024 * 1024

# Saves or loads a 256 MiB array through an S3 store; prints peak RSS around it.
PEAK_SCRIPT = """
import json, resource, sys
import numpy as np
from grange.datastore import ContentAddressedStore
from grange.datastore.location import DatastoreLocation

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

cas = ContentAddressedStore(DatastoreLocation.of(sys.argv[1]).open(), "Big")
if sys.argv[2] == "save":
    value = np.arange(256 * 1024 * 1024 // 8, dtype=np.int64)
    before = peak()
    key = cas.save(value).key
else:
    before = peak()
    value = cas.load(sys.argv[3])
    key = int(value[:: 512].sum())  # touch every page
print(json.dumps({"before": before, "after": peak(), "key": key}))
"""


def _peak(env: dict[str, str], *args: str) -> tuple[int, object]:
    out = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout)
    return result["after"] - result["before"], result["key"]


@pytest.mark.slow
def test_a_256_mib_artifact_is_saved_and_loaded_without_extra_copies(
    s3_bucket: str, tmp_path: Path
) -> None:
    root = f"s3://{s3_bucket}/big"
    env = {**os.environ, "GRANGE_CACHE_DIR": str(tmp_path / "cache")}
    blob = 256 * MIB
    grew, key = _peak(env, root, "save")
    assert grew < 2 * blob, f"saving grew the peak RSS by {grew / MIB:.0f} MiB"
    for cache_mb in ("2048", "0", "2048"):  # download to the cache, to a temp file, hit
        grew, total = _peak({**env, "GRANGE_S3_CACHE_MB": cache_mb}, root, "load", str(key))
        assert grew < 2 * blob, f"loading grew the peak RSS by {grew / MIB:.0f} MiB"
        expected = int(np.arange(256 * MIB // 8, dtype=np.int64)[::512].sum())
        assert total == expected


def _store(bucket: str, cache: BlobCache | None) -> S3BlobStore:
    return S3BlobStore(S3Url(bucket, "p"), S3Settings.from_env(), cache=cache)


def test_the_cache_serves_a_blob_again_without_the_server(s3_bucket: str, tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache", 64 * MIB)
    cas = ContentAddressedStore(_store(s3_bucket, cache), "F")
    value = np.arange(MIB, dtype=np.int64)  # 8 MiB: mapped from the cached file
    ref = cas.save(value)
    assert cache.usage() == 0  # uploads are not cached
    assert (cas.load(ref.key) == value).all()
    assert cache.usage() >= value.nbytes
    # Another process's store (a fresh object) finds it even with the object gone.
    import boto3

    boto3.client("s3").delete_object(Bucket=s3_bucket, Key=f"p/{cas.blob_key(ref.key)}")
    other = ContentAddressedStore(_store(s3_bucket, cache), "F")
    assert (other.load(ref.key) == value).all()
    # Keys that may change (records, logs) are never cached.
    other.blobs.put_bytes("F/1/start/1/0/record.json", b"{}")
    other.blobs.get_bytes("F/1/start/1/0/record.json")
    assert cache.usage() < value.nbytes + 4096


@pytest.mark.parametrize("size", [2 * MIB, 1000], ids=["large", "small"])
def test_a_damaged_cached_file_is_dropped_and_the_stored_blob_read(
    s3_bucket: str, tmp_path: Path, size: int
) -> None:
    cache = BlobCache(tmp_path / "cache", 64 * MIB)
    cas = ContentAddressedStore(_store(s3_bucket, cache), "F")
    value = os.urandom(size)  # incompressible
    ref = cas.save(value)
    assert cas.load(ref.key) == value
    path = cache.path(s3_bucket, ref.key)
    with open(path, "r+b") as f:
        f.seek(-1, os.SEEK_END)
        f.write(b"\x00")
    fresh = ContentAddressedStore(_store(s3_bucket, cache), "F")
    assert fresh.load(ref.key) == value  # the damaged copy is dropped, the stored one read
    assert fresh.load(ref.key) == value
    cached = Path(path).read_bytes()  # cached again, intact
    assert hashlib.sha1(cached).hexdigest() == ref.key


def test_a_damaged_cached_foreach_split_is_read_again(s3_bucket: str, tmp_path: Path) -> None:
    from grange.datastore import load_item, save_items

    cache = BlobCache(tmp_path / "cache", 64 * MIB)
    store = _store(s3_bucket, cache)
    ref = save_items(ContentAddressedStore(store, "F"), "F", list(range(50)), max_items=100)
    assert load_item(store, ref, 3) == 3  # the split is now cached whole
    path = cache.path(s3_bucket, ref.key)
    data = bytearray(Path(path).read_bytes())
    data[-3] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    fresh = _store(s3_bucket, cache)
    assert [load_item(fresh, ref, i) for i in (49, 3)] == [49, 3]


def test_a_damaged_stored_blob_is_still_an_error(s3_bucket: str, tmp_path: Path) -> None:
    store = _store(s3_bucket, None)
    cas = ContentAddressedStore(store, "F")
    ref = cas.save(os.urandom(1000))
    store.put_bytes(cas.blob_key(ref.key), b"not the bytes", overwrite=True)
    with pytest.raises(DamagedBlobError):
        ContentAddressedStore(_store(s3_bucket, None), "F").load(ref.key)


def test_the_cache_stays_within_its_bound(s3_bucket: str, tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache", 3 * MIB)
    cas = ContentAddressedStore(_store(s3_bucket, cache), "F")
    refs = [cas.save(os.urandom(MIB)) for _ in range(8)]  # incompressible
    for ref in refs:
        cas.load(ref.key)
        assert cache.usage() <= 3 * MIB + MIB  # at most one blob past the bound
    cache.evict()
    assert cache.usage() <= 3 * MIB
    assert os.path.exists(cache.path(s3_bucket, refs[-1].key))  # the latest stays
    assert not os.path.exists(cache.path(s3_bucket, refs[0].key))  # the oldest went
    value = os.urandom(4 * MIB)
    big = cas.save(value)  # bigger than the bound: never cached
    assert cas.load(big.key) == value
    assert not os.path.exists(cache.path(s3_bucket, big.key))


# Uploads a blob whose chunks stall after 3 parts, so that the test can kill it.
KILL_SCRIPT = """
import sys, time
from grange.datastore.location import DatastoreLocation

store = DatastoreLocation.of(sys.argv[1]).open()

def chunks():
    for i in range(12):
        yield bytes([i]) * (5 * 1024 * 1024)
        if i == 3:
            open(sys.argv[2], "w").close()
            time.sleep(600)

store.put_chunks("F/data/ab/abcdef", chunks())
"""


def test_a_writer_killed_mid_multipart_upload_leaves_nothing_visible(
    s3_server: MotoServer, s3_bucket: str, tmp_path: Path
) -> None:
    marker = tmp_path / "uploading"
    env = {**os.environ, "GRANGE_S3_PART_SIZE_MB": "5"}
    child = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, f"s3://{s3_bucket}/p", str(marker)], env=env
    )
    while not marker.exists():
        assert child.poll() is None, "the writer ended before it was killed"
        time.sleep(0.05)
    import boto3

    client = boto3.client("s3")
    while not client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads"):
        time.sleep(0.05)  # parts are on their way
    child.send_signal(signal.SIGKILL)
    child.wait()
    store = _store(s3_bucket, None)
    assert not store.exists("F/data/ab/abcdef")
    assert store.list("") == []
    assert store.children("F") == []
    # The parts stay billed until the bucket's lifecycle rule aborts the upload.
    assert client.list_multipart_uploads(Bucket=s3_bucket)["Uploads"][0]["Key"] == (
        "p/F/data/ab/abcdef"
    )
    assert store.put_bytes("F/data/ab/abcdef", b"whole")
    assert store.get_bytes("F/data/ab/abcdef") == b"whole"


def test_a_writer_whose_chunks_raise_aborts_its_upload(s3_bucket: str) -> None:
    store = S3BlobStore(
        S3Url(s3_bucket, "p"), S3Settings.from_env().with_(part_size_mb=5), cache=None
    )

    def chunks():  # type: ignore[no-untyped-def]
        for i in range(3):
            yield bytes([i]) * (5 * MIB)
        raise RuntimeError("the serializer failed")

    with pytest.raises(RuntimeError, match="serializer failed"):
        store.put_chunks("F/data/ab/abcdef", chunks())
    import boto3

    assert not boto3.client("s3").list_multipart_uploads(Bucket=s3_bucket).get("Uploads")
    assert store.list("") == []


@pytest.mark.parametrize("cached", [True, False])
def test_parallel_ranged_download_when_asked_for(
    s3_server: MotoServer, s3_bucket: str, tmp_path: Path, cached: bool
) -> None:
    from s3proxy import S3Proxy

    proxy = S3Proxy(s3_server.url)
    settings = S3Settings.from_env().with_(endpoint_url=proxy.url, part_size_mb=5)
    cache = BlobCache(tmp_path / "cache", 64 * MIB) if cached else None
    store = S3BlobStore(S3Url(s3_bucket, "p"), settings, cache=cache, ranged_get=True)
    cas = ContentAddressedStore(store, "F")
    value = os.urandom(12 * MIB + 5)
    ref = cas.save(value)
    ranges: list[bytes] = []
    proxy.after_request = lambda head: ranges.extend(
        line for line in head.lower().split(b"\r\n") if line.startswith(b"range:")
    )
    try:
        assert cas.load(ref.key) == value  # hashed and checked as any load
    finally:
        proxy.close()
    assert len(ranges) == 3  # three 5 MiB parts, fetched side by side
    if cache is not None:
        assert os.path.getsize(cache.path(s3_bucket, ref.key)) == ref.size


def test_an_unusable_cache_folder_only_turns_the_cache_off(s3_bucket: str, tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_bytes(b"")  # a file where the cache folder should be
    cas = ContentAddressedStore(_store(s3_bucket, BlobCache(blocked / "cache", 64 * MIB)), "F")
    value = os.urandom(MIB)
    assert cas.load(cas.save(value).key) == value


# Loads one blob several times through a shared cache folder; prints what it read.
LOAD_SCRIPT = """
import hashlib, sys
from grange.datastore import ContentAddressedStore
from grange.datastore.location import DatastoreLocation

cas = ContentAddressedStore(DatastoreLocation.of(sys.argv[1]).open(), "F")
for _ in range(3):
    print(hashlib.sha1(cas.load(sys.argv[2])).hexdigest())
"""


def test_processes_sharing_the_cache_read_whole_blobs(s3_bucket: str, tmp_path: Path) -> None:
    cas = ContentAddressedStore(_store(s3_bucket, None), "F")
    value = os.urandom(6 * MIB)
    ref = cas.save(value)
    env = {**os.environ, "GRANGE_CACHE_DIR": str(tmp_path / "c"), "GRANGE_S3_CACHE_MB": "64"}
    args = [sys.executable, "-c", LOAD_SCRIPT, f"s3://{s3_bucket}/p", ref.key]
    children = [
        subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True) for _ in range(3)
    ]
    outputs = [child.communicate()[0].split() for child in children]
    assert all(child.returncode == 0 for child in children)
    import hashlib

    assert outputs == [[hashlib.sha1(value).hexdigest()] * 3] * 3
    cached = [p for p in (tmp_path / "c" / "blobs").rglob("*") if p.is_file()]
    assert [p.name for p in cached if not p.name.startswith(".")] == [ref.key]


def test_a_foreach_split_is_fetched_once_for_the_tasks_of_a_machine(
    s3_server: MotoServer, s3_bucket: str, tmp_path: Path
) -> None:
    from grange.datastore.foreach import load_item, save_items
    from s3proxy import S3Proxy

    proxy = S3Proxy(s3_server.url)
    settings = S3Settings.from_env().with_(endpoint_url=proxy.url)
    cache = BlobCache(tmp_path / "cache", 64 * MIB)
    ref = save_items(_store(s3_bucket, None), "F", [f"item {i}" for i in range(50)], max_items=99)
    try:
        for i in range(50):  # each task opens its own store, as forked tasks do
            store = S3BlobStore(S3Url(s3_bucket, "p"), settings, cache=cache)
            assert load_item(store, ref, i) == f"item {i}"
    finally:
        proxy.close()
    assert proxy.requests == 2  # the first piece, then the whole table into the cache
