"""Serialization: round trips, zero-copy buffers, compression only when it pays."""

from __future__ import annotations

import datetime
import decimal
import os
import pickle
import struct
import sys
import threading
import types
from collections import OrderedDict
from typing import Any

import pytest

from grange.datastore import ArtifactSerializationError, deserialize, serialize
from grange.datastore.serialize import ALIGN, ENCODING, ENCODING_ZLIB, MAGIC, sha1_of
from grange.exceptions import ArtifactLoadError


def blob_of(obj: object) -> bytearray:
    """The blob as a writable buffer, the way a store hands it to deserialize."""
    ser = serialize(obj)
    out = bytearray()
    for chunk in ser.chunks:
        out += chunk
    assert len(out) == ser.size
    return out


def round_trip(obj: object) -> Any:
    return deserialize(memoryview(blob_of(obj)))


def buffer_table(blob: bytes | bytearray) -> list[tuple[int, int]]:
    magic, _version, _flags, _, count, _, _, _ = struct.unpack_from("<4sBBHIIQQ", blob)
    assert magic == MAGIC
    return [struct.unpack_from("<QQ", blob, 32 + 16 * i) for i in range(count)]


@pytest.fixture
def np() -> Any:
    return pytest.importorskip("numpy")


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


@pytest.mark.parametrize(
    "obj",
    [
        None,
        0,
        -(2**100),
        3.5,
        "",
        "héllo",
        b"",
        b"\x00\xff",
        bytearray(b"mutable"),
        [1, [2, [3, {"four": (5,)}]]],
        {"a": {1, 2}, "b": frozenset({3}), ("t", 1): OrderedDict(x=1)},
        decimal.Decimal("1.10"),
        datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc),
        Point(1, 2),
        range(3, 30, 3),
    ],
)
def test_python_objects_round_trip(obj: object) -> None:
    assert round_trip(obj) == obj


def test_shared_and_recursive_references_survive() -> None:
    inner = [1, 2]
    outer: list[Any] = [inner, inner]
    outer.append(outer)
    out = round_trip(outer)
    assert out[0] is out[1] and out[2] is out


def test_large_bytes_round_trip_and_random_bytes_are_not_compressed() -> None:
    data = os.urandom(6 << 20)  # over 4 MiB: decided by probing the first MiB
    ser = serialize(data)
    assert ser.encoding == ENCODING
    assert round_trip(data) == data
    mid = os.urandom(1 << 20)  # under 4 MiB: compressed, then rejected
    assert serialize(mid).encoding == ENCODING


def test_compression_only_when_it_pays() -> None:
    assert serialize({"small": "x" * 1000}).encoding == ENCODING  # under 64 KiB: never
    compressible = ["same words again"] * 50_000
    ser = serialize(compressible)
    assert ser.encoding == ENCODING_ZLIB
    assert ser.size < len(pickle.dumps(compressible, protocol=5)) * 0.8
    assert round_trip(compressible) == compressible
    big_zeros = b"\x00" * (8 << 20)
    assert serialize(big_zeros).encoding == ENCODING_ZLIB
    assert round_trip(big_zeros) == big_zeros


def test_keys_are_stable_and_equal_for_equal_content() -> None:
    a = {"x": list(range(1000)), "y": "text"}
    b = {"x": list(range(1000)), "y": "text"}
    assert serialize(a).key == serialize(a).key == serialize(b).key
    assert serialize(a).key != serialize({"x": list(range(1000)), "y": "texT"}).key
    ser = serialize(a)
    assert ser.key == sha1_of([bytes(blob_of(a))])
    assert len(ser.key) == 40 and int(ser.key, 16) >= 0


def test_bad_blobs_raise_artifact_load_error() -> None:
    with pytest.raises(ArtifactLoadError, match="truncated"):
        deserialize(memoryview(b"GRP5"))
    with pytest.raises(ArtifactLoadError, match="unknown format"):
        deserialize(memoryview(b"XXXX" + bytes(60)))


def test_a_class_that_is_gone_names_its_module() -> None:
    mod = types.ModuleType("grange_vanished_module")
    exec("class Thing:\n    pass\n", mod.__dict__)
    sys.modules[mod.__name__] = mod
    try:
        blob = blob_of(mod.Thing())
    finally:
        del sys.modules[mod.__name__]
    with pytest.raises(ArtifactLoadError) as info:
        deserialize(memoryview(blob))
    assert "grange_vanished_module" in str(info.value)
    assert info.value.fix and "install" in info.value.fix


def _generator() -> Any:
    yield 1


@pytest.mark.parametrize(
    ("obj", "type_name"),
    [
        (lambda x: x, "function"),
        (_generator(), "generator"),
        (threading.Lock(), "_thread.lock"),
        ({"nested": threading.Lock()}, "dict"),
    ],
)
def test_unpicklable_objects_raise_naming_the_type(obj: object, type_name: str) -> None:
    with pytest.raises(ArtifactSerializationError) as info:
        serialize(obj)
    err = info.value
    assert err.type_name == type_name
    assert type_name in str(err)
    assert isinstance(err.original, Exception)
    assert err.__cause__ is err.original


def test_unpicklable_message_names_artifact_step_and_fix() -> None:
    with pytest.raises(ArtifactSerializationError) as info:
        serialize(_generator(), name="model", step="train")
    err = info.value
    assert err.message.startswith("artifact 'model' (a generator) cannot be saved: ")
    assert err.step == "train" and err.artifact == "model"
    assert err.fix and "convert it to a list" in err.fix and "del self.model" in err.fix
    assert "step 'train'" in err.render()


# --- NumPy ----------------------------------------------------------------


def test_numpy_arrays_of_every_layout_round_trip(np: Any) -> None:
    base = np.arange(60, dtype=np.float64).reshape(6, 10)
    cases = [
        base,
        base[:, ::3],  # not contiguous: pickled in-band
        np.asfortranarray(base),
        base.T,
        np.array(4.5),  # 0-d
        np.array([], dtype=np.int32),
        np.array([1, "two", None, [3]], dtype=object),
        np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8", (2,))]),
        np.array(["2024-01-01", "NaT"], dtype="datetime64[D]"),
        np.arange(10, dtype=">u2"),
    ]
    for arr in cases:
        out = round_trip(arr)
        assert out.dtype == arr.dtype and out.shape == arr.shape
        if arr.dtype.kind == "M":
            assert np.array_equal(out, arr, equal_nan=True)
        else:
            assert np.array_equal(out, arr) if arr.dtype != object else list(out) == list(arr)
        assert out.flags.f_contiguous == arr.flags.f_contiguous or arr.ndim < 2


def test_array_buffers_are_written_from_the_array_itself(np: Any) -> None:
    arr = np.random.default_rng(0).random(100_000)
    ser = serialize(arr)
    assert ser.encoding == ENCODING  # raw buffers are never compressed
    assert any(np.shares_memory(np.asarray(c), arr) for c in ser.chunks if c.nbytes)
    assert ser.size >= arr.nbytes


def test_buffers_are_aligned_to_64_bytes(np: Any) -> None:
    objs = {"a": np.arange(7, dtype=np.uint8), "b": np.ones(13), "c": "x" * 5, "d": np.arange(3)}
    blob = blob_of(objs)
    table = buffer_table(blob)
    assert len(table) == 3
    for offset, length in table:
        assert offset % ALIGN == 0 and offset + length <= len(blob)


def test_compressible_arrays_stay_uncompressed(np: Any) -> None:
    zeros = np.zeros(1 << 20)
    ser = serialize(zeros)
    assert ser.encoding == ENCODING and ser.size > zeros.nbytes


def test_loaded_arrays_point_into_the_buffer_and_are_writable(np: Any) -> None:
    arr = np.arange(1000, dtype=np.int64)
    buf = memoryview(blob_of(arr))
    out: Any = deserialize(buf)
    assert np.shares_memory(out, np.asarray(buf))
    assert out.flags.writeable
    out[0] = -1
    assert deserialize(buf)[0] == -1  # type: ignore[index]  # the same memory: nothing was copied


def test_a_read_only_buffer_gives_read_only_arrays(np: Any) -> None:
    arr = np.arange(10)
    out: Any = deserialize(memoryview(bytes(blob_of(arr))))
    assert np.array_equal(out, arr) and not out.flags.writeable


def test_a_read_only_array_comes_back_writable(np: Any) -> None:
    """Like np.asarray(PIL image) or np.frombuffer(bytes): the next step (and the
    client) may change it in place, as with Metaflow; the stored blob never changes."""
    frozen = np.frombuffer(bytes(range(256)) * 4, dtype=np.uint8).reshape(4, 256)
    assert not frozen.flags.writeable
    buf = memoryview(bytearray(blob_of({"img": frozen, "other": np.arange(3)})))
    out: Any = deserialize(buf)
    assert out["img"].flags.writeable and np.array_equal(out["img"], frozen)
    out["img"][0, 0] = 7
    assert deserialize(buf)["img"][0, 0] == 7  # type: ignore[index]  # the buffer, not a copy
    assert frozen[0, 0] == 0


def test_pandas_dataframe_round_trips() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": range(1000), "b": [f"s{i}" for i in range(1000)], "c": 1.5})
    out = round_trip(df)
    pd.testing.assert_frame_equal(out, df)
