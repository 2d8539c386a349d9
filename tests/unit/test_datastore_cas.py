"""The content-addressed store over both backends: dedup, lazy zero-copy loads."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

import grange.datastore.cas as cas_module
import grange.datastore.local as local
from grange.datastore import (
    ArtifactRef,
    ArtifactSerializationError,
    BlobStore,
    ContentAddressedStore,
    LocalBlobStore,
    MemoryBlobStore,
    serialize,
)
from grange.datastore.foreach import ForeachRef, iter_items, load_item, save_items
from grange.exceptions import ArtifactLoadError, DamagedBlobError


@pytest.fixture(params=["memory", "local"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "memory":
        return MemoryBlobStore()
    return LocalBlobStore(tmp_path / "store")


@pytest.fixture
def cas(blobs: BlobStore) -> ContentAddressedStore:
    return ContentAddressedStore(blobs, "TrainFlow")


@pytest.fixture
def np() -> Any:
    return pytest.importorskip("numpy")


class CountingStore(MemoryBlobStore):
    """Counts the blobs actually written."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def put_chunks(self, key: str, chunks: Any, *, overwrite: bool = False) -> bool:
        written = super().put_chunks(key, chunks, overwrite=overwrite)
        if written:
            self.writes.append(key)
        return written


def test_save_then_load(cas: ContentAddressedStore) -> None:
    obj = {"weights": [0.1, 0.2], "name": "m"}
    ref = cas.save(obj)
    assert ref == ArtifactRef(key=ref.key, size=ref.size, encoding="gpickle5", type="dict")
    assert cas.exists(ref.key)
    assert cas.load(ref.key) == obj
    assert cas.size(ref.key) == ref.size


def test_layout_is_flow_data_prefix_key(cas: ContentAddressedStore, blobs: BlobStore) -> None:
    ref = cas.save("hello")
    assert blobs.list("TrainFlow") == [f"TrainFlow/data/{ref.key[:2]}/{ref.key}"]
    assert hashlib.sha1(blobs.get_bytes(cas.blob_key(ref.key))).hexdigest() == ref.key
    assert cas.url(ref.key).endswith(f"TrainFlow/data/{ref.key[:2]}/{ref.key}")


def test_identical_content_is_written_once() -> None:
    blobs = CountingStore()
    cas = ContentAddressedStore(blobs, "F")
    first = cas.save([1, 2, 3])
    second = cas.save([1, 2, 3])
    assert first == second
    assert len(blobs.writes) == 1
    assert cas.save([1, 2, 4]).key != first.key
    assert len(blobs.writes) == 2


def test_save_many_refs_each_name_and_saves_shared_objects_once() -> None:
    blobs = CountingStore()
    cas = ContentAddressedStore(blobs, "F")
    shared = list(range(100))
    refs = cas.save_many({"a": shared, "b": shared, "c": "text", "d": list(range(100))})
    assert set(refs) == {"a", "b", "c", "d"}
    assert refs["a"] == refs["b"] == refs["d"]
    assert refs["c"].type == "str"
    assert len(blobs.writes) == 2


def test_save_many_error_names_the_artifact_and_step(cas: ContentAddressedStore) -> None:
    with pytest.raises(ArtifactSerializationError) as info:
        cas.save_many({"ok": 1, "stream": (i for i in range(3))}, step="start")
    assert "artifact 'stream' (a generator)" in str(info.value)
    assert info.value.step == "start"


def test_refs_round_trip_through_dicts(cas: ContentAddressedStore) -> None:
    ref = cas.save(3.5)
    assert ArtifactRef.from_dict(ref.to_dict()) == ref


def test_loading_a_missing_key_names_it(cas: ContentAddressedStore) -> None:
    with pytest.raises(ArtifactLoadError, match="TrainFlow/data/de/deadbeef is missing"):
        cas.load("deadbeef")


def test_flow_names_are_single_path_parts(blobs: BlobStore) -> None:
    for bad in ("", "a/b", ".hidden"):
        with pytest.raises(ValueError):
            ContentAddressedStore(blobs, bad)


def test_loaded_arrays_are_writable_and_writing_leaves_the_store_alone(
    cas: ContentAddressedStore, np: Any
) -> None:
    arr = np.arange(200_000, dtype=np.float64)  # 1.6 MB: mapped on local disk
    ref = cas.save(arr)
    assert ref.type == "numpy.ndarray"
    out: Any = cas.load(ref.key)
    assert out.flags.writeable
    out[:] = -1
    again = cas.load(ref.key)
    assert np.array_equal(again, arr)
    assert hashlib.sha1(cas.blobs.get_bytes(cas.blob_key(ref.key))).hexdigest() == ref.key


def test_local_loads_map_the_file_without_copying(tmp_path: Path, np: Any) -> None:
    cas = ContentAddressedStore(LocalBlobStore(tmp_path), "F")
    arr = np.arange(1 << 18, dtype=np.int64)
    out: Any = cas.load(cas.save(arr).key)
    assert not out.flags.owndata
    base = out
    while getattr(base, "base", None) is not None:
        base = base.base
    assert isinstance(base, memoryview) and type(base.obj).__name__ == "mmap"


def test_large_blobs_hash_while_writing(
    tmp_path: Path, np: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "PARALLEL_HASH_MIN", 1024)
    blobs = LocalBlobStore(tmp_path)
    cas = ContentAddressedStore(blobs, "F")
    arr = np.random.default_rng(1).random(50_000)
    ref = cas.save(arr)
    assert hashlib.sha1(blobs.get_bytes(cas.blob_key(ref.key))).hexdigest() == ref.key
    assert np.array_equal(cas.load(ref.key), arr)
    assert cas.put_serialized(serialize(arr)) is False  # a duplicate: written, then dropped
    assert blobs.list("") == [cas.blob_key(ref.key)]
    assert list((tmp_path / local.STAGING).iterdir()) == []  # staging is emptied


def test_a_failing_hash_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "PARALLEL_HASH_MIN", 1)
    blobs = LocalBlobStore(tmp_path)

    def broken_key() -> str:
        raise RuntimeError("hash failed")

    with pytest.raises(RuntimeError, match="hash failed"):
        blobs.put_content([b"x" * 100], broken_key, size=100)
    assert blobs.list("") == []
    assert list((tmp_path / local.STAGING).iterdir()) == []


def _flip_byte(blobs: BlobStore, key: str, offset: int = -1) -> None:
    """Damage a stored blob in place, as a bad disk sector or a stray write would."""
    data = bytearray(blobs.get_bytes(key))
    data[offset] ^= 0x01
    blobs.put_bytes(key, bytes(data), overwrite=True)


@pytest.mark.parametrize("size", [100, 300 * 1024, 3 * 1024 * 1024])
def test_a_damaged_blob_is_detected_named_and_repaired_by_saving_again(
    cas: ContentAddressedStore, size: int, capsys: pytest.CaptureFixture[str]
) -> None:
    value = b"x" * size + b"end"
    ref = cas.save(value)
    _flip_byte(cas.blobs, cas.blob_key(ref.key))
    cas_module._verified.clear()  # this process read it intact before
    with pytest.raises(DamagedBlobError) as info:
        cas.load(ref.key, name="model", task="TrainFlow/3/train/7")
    text = info.value.render()
    assert "artifact 'model' of task TrainFlow/3/train/7" in text
    assert "step 'train'" in text
    assert cas.blob_key(ref.key) in text and "does not hash to" in text
    assert "saving the same value replaces" in text
    # saving the same value again replaces the damaged blob, atomically, and says so
    assert cas.save(value) == ref
    assert "was damaged; replaced it" in capsys.readouterr().err
    assert cas.load(ref.key) == value


def test_saving_an_intact_existing_value_writes_nothing(cas: ContentAddressedStore) -> None:
    ser = serialize([1, 2, 3])
    assert cas.put_serialized(ser) is True
    assert cas.put_serialized(serialize([1, 2, 3])) is False


def test_an_unpicklable_blob_names_the_artifact_and_the_file(cas: ContentAddressedStore) -> None:
    class Boom:
        def __init__(self) -> None:
            self.state = 1

        def __setstate__(self, state: object) -> None:
            raise RuntimeError("no way back")

    globals()["Boom"] = Boom  # picklable by reference for this test
    Boom.__qualname__ = "Boom"
    try:
        ref = cas.save(Boom())
        with pytest.raises(ArtifactLoadError) as info:
            cas.load(ref.key, name="thing", task="TrainFlow/3/start/1")
    finally:
        del globals()["Boom"]
    text = info.value.render()
    assert "artifact 'thing' of task TrainFlow/3/start/1" in text
    assert "no way back" in text and cas.blob_key(ref.key) in text


def test_a_damaged_foreach_item_is_an_error_not_a_wrong_value(blobs: BlobStore) -> None:
    ref = save_items(blobs, "TrainFlow", ["alpha", "beta", "gamma"], max_items=10)
    assert [load_item(blobs, ref, i) for i in range(3)] == ["alpha", "beta", "gamma"]
    _flip_byte(blobs, ref.blob_key, -3)  # inside the last item's pickled string
    assert load_item(blobs, ref, 0) == "alpha"
    with pytest.raises(DamagedBlobError, match="item 2 does not match its checksum"):
        load_item(blobs, ref, 2)
    with pytest.raises(DamagedBlobError, match="does not hash to"):
        list(iter_items(blobs, ref))
    # saving the same items again repairs the split
    assert save_items(blobs, "TrainFlow", ["alpha", "beta", "gamma"], max_items=10) == ref
    assert load_item(blobs, ref, 2) == "gamma"


def test_a_truncated_foreach_split_is_an_error(blobs: BlobStore) -> None:
    ref = save_items(blobs, "TrainFlow", list(range(5)), max_items=10)
    data = blobs.get_bytes(ref.blob_key)
    blobs.put_bytes(ref.blob_key, data[:-4], overwrite=True)
    with pytest.raises(DamagedBlobError, match="shorter than its table says"):
        load_item(blobs, ref, 4)


def test_foreach_splits_written_before_checksums_still_load(blobs: BlobStore) -> None:
    import pickle
    import struct

    items = [pickle.dumps(v, protocol=5) for v in ("a", "b")]
    offsets = [16 + 8 * 3]
    for item in items:
        offsets.append(offsets[-1] + len(item))
    data = struct.pack("<4sIQ", b"GFE1", 0, 2) + struct.pack("<3Q", *offsets) + b"".join(items)
    key = hashlib.sha1(data).hexdigest()
    ContentAddressedStore(blobs, "TrainFlow").put_chunks(key, [data])
    ref = ForeachRef(key=key, count=2, flow="TrainFlow")
    assert [load_item(blobs, ref, 0), load_item(blobs, ref, 1)] == ["a", "b"]
    assert list(iter_items(blobs, ref)) == ["a", "b"]
