"""S3 faults through a proxy on loopback: throttling is retried, the rest is told clearly."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from grange.datastore.s3 import S3Settings, S3Url
from grange.datastore.s3.blobstore import S3BlobStore
from grange.exceptions import StoreAccessError
from s3proxy import S3Proxy
from s3server import MotoServer

pytest.importorskip("obstore")


@pytest.fixture
def proxy(s3_server: MotoServer) -> Iterator[S3Proxy]:
    before = set(threading.enumerate())
    proxy = S3Proxy(s3_server.url)
    yield proxy
    proxy.close()
    # The proxy's threads end with it: a test that forks later wants no others.
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("s3proxy")]


def _store(proxy: S3Proxy, bucket: str, **settings: object) -> S3BlobStore:
    base = S3Settings.from_env().with_(endpoint_url=proxy.url, **settings)
    return S3BlobStore(S3Url(bucket, "p"), base, cache=None, conditional_put="always")


def test_throttled_requests_are_retried_until_they_succeed(proxy: S3Proxy, s3_bucket: str) -> None:
    store = _store(proxy, s3_bucket)
    proxy.throttle(3)
    assert store.put_bytes("F/1/start/1/0/record.json", b"{}")
    proxy.throttle(2)
    assert store.get_bytes("F/1/start/1/0/record.json") == b"{}"
    proxy.throttle(2)
    assert store.list("F") == ["F/1/start/1/0/record.json"]
    assert proxy.faults == 7


def test_throttled_multipart_uploads_and_streamed_downloads_succeed(
    proxy: S3Proxy, s3_bucket: str
) -> None:
    import os

    store = _store(proxy, s3_bucket, part_size_mb=5)
    data = os.urandom(12 << 20)
    chunks = [memoryview(data)[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20)]
    proxy.throttle(4)  # the upload's first requests: create, parts
    assert store.put_chunks("F/data/ab/abcdef", chunks)
    proxy.throttle(2)
    assert bytes(store.open_buffer("F/data/ab/abcdef")) == data
    assert proxy.faults == 6


def test_a_stopped_store_is_unreachable_naming_bucket_and_key(
    proxy: S3Proxy, s3_bucket: str
) -> None:
    store = _store(proxy, s3_bucket, retry_timeout=1.0, retries=2, connect_timeout=1.0)
    assert store.put_bytes("F/data/ab/abc", b"x", overwrite=True)
    proxy.stop()
    with pytest.raises(StoreAccessError) as info:
        store.get_bytes("F/1/start/1/0/record.json")
    assert info.value.reason == "unreachable"
    assert f"s3://{s3_bucket}/p/F/1/start/1/0/record.json" in str(info.value)
    assert "resume" in info.value.render()
    proxy.start()  # the server kept its data
    assert store.exists("F/data/ab/abc")


@pytest.mark.parametrize(
    ("code", "reason", "hint"),
    [
        ("InvalidAccessKeyId", "credentials", "AWS_ACCESS_KEY_ID"),
        ("SignatureDoesNotMatch", "credentials", "AWS_PROFILE"),
        ("AccessDenied", "denied", "s3:PutObject"),
    ],
)
def test_refused_credentials_and_denied_access_say_so(
    proxy: S3Proxy, s3_bucket: str, code: str, reason: str, hint: str
) -> None:
    store = _store(proxy, s3_bucket)
    proxy.refuse_all(403, code)
    for call in (
        lambda: store.put_bytes("F/1/start/1/0/record.json", b"{}"),
        lambda: store.get_bytes("F/1/start/1/0/record.json"),
        lambda: store.list("F"),
    ):
        with pytest.raises(StoreAccessError) as info:
            call()
        assert info.value.reason == reason, info.value
        assert f"s3://{s3_bucket}/p/F" in str(info.value)
        assert hint in info.value.render()
        assert "Debug source" not in info.value.render()


def test_a_missing_bucket_names_it_and_how_to_create_it(s3_bucket: str) -> None:
    store = S3BlobStore(S3Url("grange-no-such-bucket", "p"), S3Settings.from_env(), cache=None)
    for call in (
        lambda: store.put_bytes("F/1/run.json", b"{}"),
        lambda: store.get_bytes("F/1/run.json"),
        lambda: store.exists("F/1/run.json"),
        lambda: store.children("F"),
    ):
        with pytest.raises(StoreAccessError) as info:
            call()
        assert info.value.reason == "no-bucket"
        assert "grange-no-such-bucket" in str(info.value)
        assert "aws s3 mb s3://grange-no-such-bucket" in info.value.render()
