"""BlobStore contract, run against the in-memory twin and the local disk."""

from __future__ import annotations

import ast
import hashlib
import multiprocessing
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import grange.datastore
from grange.datastore import BlobNotFound, BlobStore, LocalBlobStore, MemoryBlobStore
from grange.datastore.backend import Chunk

SRC = Path(grange.datastore.__file__).parent


@pytest.fixture(params=["memory", "local"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "memory":
        return MemoryBlobStore()
    return LocalBlobStore(tmp_path / "store")


def files_on_disk(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_put_get_exists_size_delete(blobs: BlobStore) -> None:
    assert not blobs.exists("F/data/ab/abc")
    assert blobs.put_bytes("F/data/ab/abc", b"hello")
    assert blobs.exists("F/data/ab/abc")
    assert blobs.get_bytes("F/data/ab/abc") == b"hello"
    assert blobs.size("F/data/ab/abc") == 5
    assert blobs.get_range("F/data/ab/abc", 1, 3) == b"ell"
    assert blobs.get_range("F/data/ab/abc", 3, 100) == b"lo"
    assert blobs.delete("F/data/ab/abc")
    assert not blobs.delete("F/data/ab/abc")
    assert not blobs.exists("F/data/ab/abc")


def test_chunks_of_every_buffer_kind_are_concatenated(blobs: BlobStore) -> None:
    chunks: list[Chunk] = [
        b"ab",
        bytearray(b"cd"),
        memoryview(b"xxef")[2:],
        memoryview(bytes(range(4))).cast("I"),
    ]
    assert blobs.put_chunks("k", chunks)
    assert blobs.get_bytes("k") == b"abcdef" + bytes(range(4))


def test_missing_key_raises_blob_not_found_naming_the_key(blobs: BlobStore) -> None:
    for read in (blobs.get_bytes, blobs.open_buffer, blobs.size):
        with pytest.raises(BlobNotFound) as info:
            read("Flow/data/00/0042")
        assert "Flow/data/00/0042" in str(info.value)
        assert info.value.key == "Flow/data/00/0042"
    with pytest.raises(BlobNotFound):
        blobs.get_range("nope", 0, 1)


def test_no_overwrite_keeps_the_first_blob(blobs: BlobStore) -> None:
    assert blobs.put_bytes("a/b", b"first") is True
    assert blobs.put_bytes("a/b", b"second") is False
    assert blobs.get_bytes("a/b") == b"first"
    assert blobs.put_bytes("a/b", b"third", overwrite=True) is True
    assert blobs.get_bytes("a/b") == b"third"


def test_no_overwrite_does_not_consume_chunks(blobs: BlobStore) -> None:
    blobs.put_bytes("a", b"x")
    consumed = []

    def chunks() -> Iterator[bytes]:
        consumed.append(1)
        yield b"y"

    assert blobs.put_chunks("a", chunks()) is False
    assert consumed == []


def test_list_is_recursive_sorted_and_scoped_to_a_folder(blobs: BlobStore) -> None:
    for key in ["F/2/s/1/0/record.json", "F/1/s/1/0/record.json", "F/data/aa/aab", "G/x", "Fx/y"]:
        blobs.put_bytes(key, b".")
    assert blobs.list("F") == ["F/1/s/1/0/record.json", "F/2/s/1/0/record.json", "F/data/aa/aab"]
    assert blobs.list("F/") == blobs.list("F")
    assert blobs.list("F/data") == ["F/data/aa/aab"]
    assert blobs.list("nothing/here") == []
    assert len(blobs.list("")) == 5


def test_writer_failing_between_chunks_leaves_nothing_visible(
    blobs: BlobStore, tmp_path: Path
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"a" * 1000
        raise RuntimeError("killed between chunks")

    with pytest.raises(RuntimeError, match="between chunks"):
        blobs.put_chunks("F/data/ab/abcd", chunks())
    assert not blobs.exists("F/data/ab/abcd")
    assert blobs.list("") == []
    if isinstance(blobs, LocalBlobStore):
        assert files_on_disk(blobs.root) == []  # the temporary file is removed too
    assert blobs.put_bytes("F/data/ab/abcd", b"whole")  # and the key is still free
    assert blobs.get_bytes("F/data/ab/abcd") == b"whole"


def test_writer_killed_mid_write_leaves_only_a_hidden_temp(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "store")

    def chunks() -> Iterator[bytes]:
        yield b"a" * 1000
        os._exit(9)  # like kill -9: no cleanup runs

    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=blobs.put_chunks, args=("F/data/ab/abcd", chunks()))
    child.start()
    child.join()
    assert child.exitcode == 9
    on_disk = files_on_disk(blobs.root)
    assert len(on_disk) == 1 and Path(on_disk[0]).name.startswith(".abcd.tmp-")
    assert not blobs.exists("F/data/ab/abcd")
    assert blobs.list("") == []
    assert blobs.put_bytes("F/data/ab/abcd", b"whole")
    assert blobs.list("") == ["F/data/ab/abcd"]


def _race(root: Path, keys: list[str], payloads: list[bytes], barrier: Any, results: Any) -> None:
    store = LocalBlobStore(root)
    won = []
    for key, payload in zip(keys, payloads, strict=True):
        barrier.wait()
        chunks = [payload[i : i + 65536] for i in range(0, len(payload), 65536)]
        won.append(store.put_chunks(key, chunks))
    results.put((os.getpid(), won))


def test_two_processes_writing_the_same_keys_never_corrupt_them(tmp_path: Path) -> None:
    root = tmp_path / "store"
    payloads = [hashlib.sha256(str(i).encode()).digest() * 40000 for i in range(12)]  # 1.3 MB
    keys = [f"F/data/{i:02d}/{hashlib.sha1(p).hexdigest()}" for i, p in enumerate(payloads)]
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_race, args=(root, keys, payloads, barrier, results)) for _ in range(2)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for i, key in enumerate(keys):
        winners = [won[i] for _, won in outcomes]
        assert winners.count(True) == 1, (key, winners)
        assert LocalBlobStore(root).get_bytes(key) == payloads[i]
    assert files_on_disk(root) == sorted(keys)  # no temporary file left behind


def test_open_buffer_is_writable_and_writing_leaves_the_blob_alone(blobs: BlobStore) -> None:
    small, large = b"s" * 100, bytes(range(256)) * 4096  # 1 MiB: mapped on local disk
    for key, data in (("small", small), ("large", large)):
        blobs.put_bytes(key, data)
        view = blobs.open_buffer(key)
        assert not view.readonly
        assert bytes(view) == data
        view[0:3] = b"XYZ"
        assert blobs.get_bytes(key) == data
        assert bytes(blobs.open_buffer(key)) == data


def test_open_buffer_of_an_empty_blob(blobs: BlobStore) -> None:
    blobs.put_bytes("empty", b"")
    assert bytes(blobs.open_buffer("empty")) == b""


def test_mapped_buffer_survives_the_file_being_replaced(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    data = b"a" * (1 << 20)
    blobs.put_bytes("k", data)
    view = blobs.open_buffer("k")
    blobs.put_bytes("k", b"b" * (1 << 20), overwrite=True)
    blobs.delete("k")
    assert bytes(view[:4]) == b"aaaa" and view.nbytes == len(data)


def test_append_bytes_creates_then_appends(blobs: BlobStore) -> None:
    blobs.append_bytes("F/1/s/1/0/stdout.log", b"one\n")
    blobs.append_bytes("F/1/s/1/0/stdout.log", memoryview(b"two\n"))
    assert blobs.get_bytes("F/1/s/1/0/stdout.log") == b"one\ntwo\n"


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "a/../b", "./a", "a/.hidden", "a/", "a\\b"])
def test_invalid_keys_are_refused(blobs: BlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="key"):
        blobs.put_bytes(key, b"x")


def test_url_and_describe_say_where(blobs: BlobStore, tmp_path: Path) -> None:
    if isinstance(blobs, LocalBlobStore):
        assert blobs.url("a/b") == (tmp_path / "store" / "a" / "b").as_uri()
        assert str(tmp_path / "store") in blobs.describe()
    else:
        assert blobs.url("a/b") == "memory://a/b"
    assert blobs.describe() in repr(blobs)


def test_public_names_are_sorted_and_importable() -> None:
    assert grange.datastore.__all__ == sorted(grange.datastore.__all__)
    for name in grange.datastore.__all__:
        assert getattr(grange.datastore, name) is not None


def test_datastore_imports_only_the_stdlib_and_grange_exceptions() -> None:
    allowed = set(sys.stdlib_module_names) | {"__future__"}
    for path in sorted(SRC.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                ok = name.split(".")[0] in allowed or name == "grange.exceptions"
                ok = ok or name.startswith("grange.datastore")
                assert ok, f"{path.name} imports {name}"


def test_children_lists_one_level(blobs: BlobStore) -> None:
    for key in (
        "F/1/run.json",
        "F/1/start/1/0/record.json",
        "F/2/run.json",
        "F/data/ab/abc",
        "G/x",
    ):
        blobs.put_bytes(key, b"x")
    assert blobs.children() == ["F", "G"]
    assert blobs.children("F") == ["1", "2", "data"]
    assert blobs.children("F/1/") == ["run.json", "start"]
    assert blobs.children("F/3") == []
    assert blobs.children("G/x") == []
