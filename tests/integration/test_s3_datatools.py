"""``grange.S3`` against the loopback S3 server: every method, as a step uses it."""

from __future__ import annotations

import io
import os
import sys
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import grange.config
from grange import S3, S3GetObject, S3PutObject
from grange.datatools.s3 import (
    S3AccessDenied,
    S3Error,
    S3InvalidObject,
    S3InvalidRange,
    S3NotFound,
    S3URLError,
)
from grange.datatools.s3.transfer import Transfers
from grange.exceptions import PolicyError, StoreAccessError
from s3server import MotoServer

pytest.importorskip("obstore")


@pytest.fixture
def s3(s3_bucket: str, tmp_path: Path) -> Iterator[S3]:
    with S3(s3root=f"s3://{s3_bucket}/root", tmproot=str(tmp_path)) as client:
        yield client


def test_put_and_get_one_object_with_its_info(s3: S3) -> None:
    url = s3.put("a/x.txt", "héllo", content_type="text/plain", metadata={"n": [1, 2]})
    assert url == f"{s3.s3root}/a/x.txt"
    obj = s3.get("a/x.txt")
    assert obj.exists and obj.downloaded and obj.has_info
    assert (obj.key, obj.url, obj.prefix) == ("a/x.txt", url, s3.s3root)
    assert obj.text == "héllo" and obj.blob == "héllo".encode() and obj.size == 6
    assert obj.path is not None and Path(obj.path).read_bytes() == obj.blob
    assert obj.content_type == "text/plain" and obj.metadata == {"n": [1, 2]}
    assert obj.range_info == (6, 0, 6)
    assert isinstance(obj.last_modified, float) and obj.last_modified > 0

    bare = s3.get("a/x.txt", return_info=False)
    assert bare.text == "héllo" and not bare.has_info and bare.metadata is None


def test_values_of_every_kind_and_what_is_refused(s3: S3, tmp_path: Path) -> None:
    s3.put("bytes", b"\x00\x01")
    s3.put("view", memoryview(b"mv"))
    buffer = io.BytesIO(b"file-like")
    buffer.read()  # a put reads the whole file, wherever it stands
    s3.put("file", buffer)
    assert [o.blob for o in s3.get_many(["bytes", "view", "file"])] == [
        b"\x00\x01",
        b"mv",
        b"file-like",
    ]
    with pytest.raises(S3InvalidObject, match="not text, bytes or a binary file"):
        s3.put("number", 42)  # type: ignore[arg-type]
    with pytest.raises(S3URLError, match="whole URL"):
        s3.put("s3://other/key", "x")
    with pytest.raises(S3URLError, match="empty part"):
        s3.put("a//b", "x")
    with pytest.raises(S3URLError, match=r"'\.\.' part"):
        s3.get("a/../b")


def test_missing_keys_raise_or_come_back_missing(s3: S3) -> None:
    s3.put("here", "1")
    with pytest.raises(S3NotFound, match=r"no object at .*/root/gone") as info:
        s3.get("gone")
    assert "return_missing=True" in str(info.value)
    with pytest.raises(S3NotFound):
        s3.get_many(["here", "gone"])
    with pytest.raises(S3NotFound):
        s3.info("gone")
    here, gone = s3.get_many(["here", "gone"], return_missing=True)
    assert here.exists and here.text == "1"
    assert not gone.exists and not gone.downloaded and gone.key == "gone" and gone.blob is None
    assert not s3.info("gone", return_missing=True).exists
    assert [o.exists for o in s3.info_many(["here", "gone"], return_missing=True)] == [True, False]


def test_byte_ranges(s3: S3) -> None:
    s3.put("digits", "0123456789")
    cases = {
        S3GetObject("digits", 2, 3): ("234", (10, 2, 3)),
        S3GetObject("digits", 7): ("789", (10, 7, 3)),
        S3GetObject("digits", None, -4): ("6789", (10, 6, 4)),
        S3GetObject("digits", 8, 100): ("89", (10, 8, 2)),
    }
    got = s3.get_many(list(cases))
    for obj, (text, range_info) in zip(got, cases.values(), strict=True):
        assert (obj.text, obj.range_info, obj.size) == (text, range_info, len(text))
    with pytest.raises(S3InvalidRange, match="outside the object"):
        s3.get(S3GetObject("digits", 10, 2))
    with pytest.raises(S3InvalidRange, match="0 bytes"):
        s3.get(S3GetObject("digits", 0, 0))


def test_info_reads_metadata_without_downloading(s3: S3) -> None:
    s3.put_many([S3PutObject("m", value="abc", content_type="text/csv", metadata={"k": "v"})])
    info = s3.info("m")
    assert info.exists and not info.downloaded and info.path is None and info.blob is None
    assert (info.size, info.content_type, info.metadata) == (3, "text/csv", {"k": "v"})
    assert info.range_info is None


def test_listing_one_level_and_recursively(s3: S3) -> None:
    for key in ["a/0.txt", "a/b/1.txt", "a/c/2.txt", "a/d/e/3.txt", "f/4.txt", "ab/5.txt"]:
        s3.put(key, key)
    level = s3.list_paths(["a", "f"])
    assert [(o.key, o.exists, o.prefix) for o in level] == [
        ("0.txt", True, f"{s3.s3root}/a"),
        ("b", False, f"{s3.s3root}/a"),
        ("c", False, f"{s3.s3root}/a"),
        ("d", False, f"{s3.s3root}/a"),
        ("4.txt", True, f"{s3.s3root}/f"),
    ]
    assert level[1].url == f"{s3.s3root}/a/b/" and level[0].size == len("a/0.txt")
    assert [o.key for o in s3.list_paths()] == ["a", "ab", "f"]
    deep = s3.list_recursive(["a"])
    assert [o.key for o in deep] == ["0.txt", "b/1.txt", "c/2.txt", "d/e/3.txt"]
    assert all(o.exists and not o.downloaded for o in deep)
    assert len(s3.list_recursive()) == 6
    assert s3.list_recursive(["nothing-here"]) == []


def test_get_recursive_and_get_all(s3: S3) -> None:
    s3.put_many([("d/x", "1"), ("d/y/z", "2"), ("e", "3")])
    got = s3.get_recursive(["d"])
    assert [(o.key, o.text, o.has_info) for o in got] == [("x", "1", False), ("y/z", "2", False)]
    everything = s3.get_all(return_info=True)
    assert sorted((o.key, o.text) for o in everything) == [("d/x", "1"), ("d/y/z", "2"), ("e", "3")]
    assert all(o.has_info for o in everything)
    with pytest.raises(S3URLError, match="needs a root"), S3() as bare:
        bare.get_all()


def test_put_many_and_put_files_without_overwriting(s3: S3, tmp_path: Path) -> None:
    local = tmp_path / "data.bin"
    local.write_bytes(b"from disk")
    assert s3.put_files([("f1", str(local)), S3PutObject("f2", path=str(local))]) == [
        ("f1", f"{s3.s3root}/f1"),
        ("f2", f"{s3.s3root}/f2"),
    ]
    assert s3.get("f2").blob == b"from disk"
    assert s3.put("f1", "other", overwrite=False) == f"{s3.s3root}/f1"
    assert s3.get("f1").blob == b"from disk"
    written = s3.put_many([("f1", "other"), ("f3", "new")], overwrite=False)
    assert written == [("f3", f"{s3.s3root}/f3")]
    assert s3.put_files([("f2", str(local))], overwrite=False) == []
    with pytest.raises(S3NotFound, match="no local file"):
        s3.put_files([("f4", str(tmp_path / "missing"))])


def test_a_big_file_goes_up_and_comes_back_in_parallel_parts(
    s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRANGE_S3_PART_SIZE_MB", "5")  # S3's smallest part
    parts = _Counting(Transfers._download_parts)
    monkeypatch.setattr(Transfers, "_download_parts", lambda self, *a, **k: parts(self, *a, **k))
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(11 * 1024 * 1024))  # three parts
    with S3(s3root=f"s3://{s3_bucket}/big", tmproot=str(tmp_path)) as s3:
        s3.put_files([("big.bin", str(big))])
        s3.put("small.bin", b"x" * 1024)
        obj, small = s3.get_many(["big.bin", "small.bin"])
        assert obj.size == big.stat().st_size and obj.range_info == (obj.size, 0, obj.size)
        assert Path(obj.path or "").read_bytes() == big.read_bytes()
        assert small.blob == b"x" * 1024
        assert parts.calls == 1  # the big one only
        part = s3.get(S3GetObject("big.bin", 5, 10))  # a range is one request
        assert part.blob == big.read_bytes()[5:15] and parts.calls == 1


def test_an_object_replaced_while_read_in_parts_is_not_mixed(
    s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRANGE_S3_PART_SIZE_MB", "5")
    real = Transfers._download_parts

    async def replaced_meanwhile(
        self: Transfers, loc: Any, path: str, size: int, etag: str
    ) -> None:
        return await real(self, loc, path, size, '"an-older-etag"')

    monkeypatch.setattr(Transfers, "_download_parts", replaced_meanwhile)
    with S3(s3root=f"s3://{s3_bucket}/big", tmproot=str(tmp_path)) as s3:
        s3.put("big.bin", os.urandom(10 * 1024 * 1024))
        with pytest.raises(S3Error, match="replaced while it was being read"):
            s3.get("big.bin")


def test_temporary_files_are_removed_at_the_end_of_the_scope(
    s3_bucket: str, tmp_path: Path
) -> None:
    with S3(s3root=f"s3://{s3_bucket}/t", tmproot=str(tmp_path)) as s3:
        s3.put("k", "v")
        path = s3.get("k").path
        assert path is not None and os.path.exists(path)
    assert not os.path.exists(path) and list(tmp_path.iterdir()) == []
    s3 = S3(s3root=f"s3://{s3_bucket}/t", tmproot=str(tmp_path))
    path = s3.get("k").path
    s3.close()
    assert path is not None and not os.path.exists(path)


def test_full_urls_without_a_root_and_bucket_prefix_roots(s3_bucket: str) -> None:
    with S3() as s3:
        url = f"s3://{s3_bucket}/x/y"
        assert s3.put(url, "1") == url
        obj = s3.get(url)
        assert (obj.key, obj.prefix, obj.text) == (url, None, "1")
        with pytest.raises(S3URLError, match="no root"):
            s3.get("x/y")
    with S3(bucket=s3_bucket, prefix="x") as s3:
        assert s3.get("y").text == "1" and s3.s3root == f"s3://{s3_bucket}/x"


class _Counting:
    """Wraps a Transfers method to record how many calls run at once."""

    def __init__(self, method: Any) -> None:
        self.method = method
        self.now = self.most = self.calls = 0
        self.lock = threading.Lock()

    async def __call__(self, transfers: Transfers, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.now += 1
            self.calls += 1
            self.most = max(self.most, self.now)
        try:
            return await self.method(transfers, *args, **kwargs)
        finally:
            with self.lock:
                self.now -= 1


def test_many_objects_move_in_parallel_within_the_bound(
    s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploads, downloads = _Counting(Transfers.upload), _Counting(Transfers.download)
    monkeypatch.setattr(Transfers, "upload", lambda self, *a, **k: uploads(self, *a, **k))
    monkeypatch.setattr(Transfers, "download", lambda self, *a, **k: downloads(self, *a, **k))
    items = [(f"many/{i:03d}", os.urandom(64) + str(i).encode()) for i in range(200)]
    with S3(s3root=f"s3://{s3_bucket}", tmproot=str(tmp_path), concurrency=8) as s3:
        assert s3.concurrency == 8
        assert [k for k, _ in s3.put_many(items)] == [k for k, _ in items]
        got = s3.get_many([k for k, _ in items])
        assert [(o.key, o.blob) for o in got] == items
        assert len({o.path for o in got}) == 200
    for counter in (uploads, downloads):
        assert counter.calls == 200 and 1 < counter.most <= 8


class _Refusing(BaseHTTPRequestHandler):
    """An S3 endpoint that refuses every request, as S3 does without permission."""

    def _deny(self) -> None:
        body = b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _deny

    def log_message(self, *args: Any) -> None:
        pass


def test_access_denied_names_the_url_and_the_permission(
    s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("GRANGE_S3_ENDPOINT_URL", f"http://127.0.0.1:{server.server_port}")
        with S3(s3root="s3://locked/data") as s3:
            with pytest.raises(S3AccessDenied, match="cannot read s3://locked/data/k") as err:
                s3.get("k")
            assert "s3:GetObject" in str(err.value) and isinstance(err.value, StoreAccessError)
            with pytest.raises(S3AccessDenied, match="s3:PutObject"):
                s3.put_many([("k", "v")])
            with pytest.raises(S3AccessDenied, match="s3:ListBucket"):
                s3.list_recursive()
    finally:
        server.shutdown()
        server.server_close()


def test_a_missing_bucket_is_named(s3_bucket: str) -> None:
    with S3(s3root="s3://grange-no-such-bucket/x") as s3:
        with pytest.raises(S3Error, match="does not exist") as err:
            s3.put("k", "v")
        assert err.value.reason == "no-bucket"


def test_the_profile_policy_is_asked_before_any_request(
    s3: S3, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, bool]] = []

    def check_s3_access(url: str, *, write: bool) -> None:
        asked.append((url, write))
        if write and "/forbidden" in url:
            raise PolicyError(f"writing {url} is not allowed", fix="use an allowed prefix")

    monkeypatch.setitem(
        sys.modules,
        "grange.config",
        types.SimpleNamespace(check_s3_access=check_s3_access, active=grange.config.active),
    )
    with S3(s3root=f"s3://{s3_bucket}/root") as guarded:
        with pytest.raises(PolicyError, match="forbidden/x"):
            guarded.put_many([("fine", "1"), ("forbidden/x", "2")])
        assert not s3.info("fine", return_missing=True).exists  # nothing was sent
        guarded.put("fine", "1")
        assert guarded.get("fine").text == "1"
        guarded.list_paths()
    root = f"s3://{s3_bucket}/root"
    assert asked == [
        (f"{root}/fine", True),
        (f"{root}/forbidden/x", True),
        (f"{root}/fine", True),
        (f"{root}/fine", False),
        (f"{root}/", False),
    ]


def test_the_example_in_the_docs_holds(s3_server: MotoServer, s3_bucket: str) -> None:
    import doctest
    import re

    text = (Path(__file__).resolve().parents[2] / "docs" / "s3-data.md").read_text()
    examples = re.findall(r"^```pycon\n(.*?)^```", text, re.S | re.M)
    assert examples
    try:
        s3_server.make_bucket("my-bucket")
    except Exception as err:  # made by an earlier run of this test in the session
        assert "BucketAlreadyOwnedByYou" in str(err)
    for example in examples:
        test = doctest.DocTestParser().get_doctest(example, {}, "s3-data.md", None, 0)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        runner.run(test)
        assert runner.summarize(verbose=False).failed == 0


def test_folder_markers_are_not_objects(s3: S3, s3_server: MotoServer, s3_bucket: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=s3_server.url, region_name="us-east-1")
    client.put_object(Bucket=s3_bucket, Key="root/dir/", Body=b"")  # as the AWS console makes
    s3.put_many([("dir/f", "1"), ("empty", b"")])
    assert [(o.key, o.size) for o in s3.list_recursive()] == [("dir/f", 1), ("empty", 0)]
    assert [o.key for o in s3.list_recursive(["dir"])] == ["f"]
    assert [(o.key, o.exists) for o in s3.list_paths(["dir"])] == [("f", True)]
    assert [(o.key, o.blob) for o in s3.get_all()] == [("dir/f", b"1"), ("empty", b"")]


def test_grange_s3_may_not_write_into_the_datastore_files(
    s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records, claims and blobs are written once, by grange: a step cannot overwrite
    them through grange.S3; the run's own data-s3/ folder is writable."""
    from grange.datatools.s3 import S3URLError

    root = f"s3://{s3_bucket}/store"
    monkeypatch.setenv("GRANGE_DATASTORE_ROOT", root)
    with S3() as s3:
        with pytest.raises(S3URLError, match="inside the datastore"):
            s3.put(f"{root}/Flow/1/run.json", "{}")
        with pytest.raises(S3URLError):
            s3.put_many([(f"{root}/Flow/data/ab/abc", b"x")])
        assert s3.put(f"{root}/data-s3/Flow/1/mine", "ok").endswith("/data-s3/Flow/1/mine")
        assert s3.put(f"s3://{s3_bucket}/elsewhere/x", "ok")
