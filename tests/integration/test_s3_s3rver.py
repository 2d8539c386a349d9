"""The S3 datastore on a second, independent S3 emulator: s3rver (Node.js).

s3rver ignores ``If-None-Match: *``, so here create-only puts (records, run
claims) take the fallback path of :mod:`grange.datastore.s3.commit`: the probe
must find that out by itself. ``.ci/run`` installs s3rver into ``.ci/node``;
without node or s3rver this module is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from grange.datastore import AttemptRecord, BlobStore, write_record
from grange.datastore.s3 import S3Settings, S3Url, commit
from grange.datastore.s3.blobstore import S3BlobStore
from grange.datastore.s3.cache import BlobCache
from grange.exceptions import RecordExistsError
from s3contract import store_tests
from s3server import free_port

pytest.importorskip("obstore")
boto3 = pytest.importorskip("boto3")

REPO = Path(__file__).resolve().parents[2]
KEYS = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER"}


def _s3rver() -> str | None:
    local = REPO / ".ci" / "node" / "node_modules" / ".bin" / "s3rver"
    if shutil.which("node") is None:
        return None
    return str(local) if local.exists() else shutil.which("s3rver")


@pytest.fixture(scope="module")
def s3rver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    program = _s3rver()
    if program is None:
        pytest.skip("s3rver is not installed (bash .ci/run installs it into .ci/node with npm)")
    port = free_port()
    folder = tmp_path_factory.mktemp("s3rver")
    log = open(folder / "s3rver.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [program, "-d", str(folder / "data"), "-a", "127.0.0.1", "-p", str(port), "-s"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # it answers (an error for the root without credentials)
            except OSError:
                assert process.poll() is None, f"s3rver did not start; see {log.name}"
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait()
        log.close()


@pytest.fixture
def blobs(s3rver: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BlobStore:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GRANGE_S3_ENDPOINT_URL", s3rver)
    bucket = f"grange-s3rver-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3rver,
        region_name="us-east-1",
        aws_access_key_id="S3RVER",
        aws_secret_access_key="S3RVER",
    )
    client.create_bucket(Bucket=bucket)
    return S3BlobStore(
        S3Url(bucket, "team/grange"),
        S3Settings.from_env(),
        cache=BlobCache(tmp_path / "cache", 64 << 20),
    )


#: Logs on S3 are uploaded whole (see test_s3_logs.py). And s3rver 3.x lists a
#: common prefix only if an object sits directly in it (its folder walk prunes
#: deeper folders): an emulator bug that AWS S3, MinIO and moto do not have.
NOT_ON_S3RVER = frozenset(
    {
        "test_log_sink_appends_and_read_log",
        "test_buffered_log_sink_flushes_on_size_and_close",
        "test_children_lists_one_level",
    }
)

for _module in ("test_datastore_backend", "test_datastore_records"):
    globals().update(store_tests(_module, skip=NOT_ON_S3RVER))


def test_children_of_folders_holding_objects(blobs: S3BlobStore) -> None:
    for key in ("F/1/run.json", "F/1/start/x", "F/2/run.json", "G/x"):
        blobs.put_bytes(key, b"x")
    assert blobs.children("F/1") == ["run.json", "start"]
    assert blobs.children("F/2") == ["run.json"]
    assert blobs.children("F/3") == []


def test_the_probe_finds_that_s3rver_ignores_conditional_puts(blobs: S3BlobStore) -> None:
    assert not commit.honours_create(blobs._store, blobs.bucket, "team/grange", None, "auto")
    record = AttemptRecord("F", "1", "start", "1", 0, "ok", 1.0, 2.0)
    assert write_record(blobs, record)
    with pytest.raises(RecordExistsError):
        write_record(blobs, record)
    assert blobs.list("") == ["F/1/start/1/0/record.json"]  # the probe left nothing visible


def test_a_big_blob_streams_through_multipart_upload(blobs: S3BlobStore) -> None:
    blobs.settings = blobs.settings.with_(part_size_mb=5)
    data = os.urandom(12 << 20)
    chunks = [memoryview(data)[i : i + (3 << 20)] for i in range(0, len(data), 3 << 20)]
    assert blobs.put_chunks("F/data/ab/abcdef", chunks)
    assert blobs.size("F/data/ab/abcdef") == len(data)
    assert bytes(blobs.open_buffer("F/data/ab/abcdef")) == data
