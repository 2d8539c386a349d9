"""Foreach items: materialized once, in order, read back one at a time."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grange.datastore import (
    ArtifactSerializationError,
    BlobStore,
    ContentAddressedStore,
    ForeachRef,
    LocalBlobStore,
    MemoryBlobStore,
    TooManySplitsError,
    iter_items,
    load_item,
    save_items,
)
from grange.exceptions import EmptyForeachError, InvalidNextError


@pytest.fixture(params=["memory", "local"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "memory":
        return MemoryBlobStore()
    return LocalBlobStore(tmp_path / "store")


class OnceOnly:
    """An iterable that fails if iterated twice, and counts the items it gives."""

    def __init__(self, items: list[object]) -> None:
        self.items = items
        self.iterations = 0
        self.given = 0

    def __iter__(self) -> Iterator[object]:
        self.iterations += 1
        assert self.iterations == 1, "iterated twice"
        for item in self.items:
            self.given += 1
            yield item


class ReadSpy(MemoryBlobStore):
    """Records how many bytes readers ask for, and how."""

    def __init__(self) -> None:
        super().__init__()
        self.ranges: list[int] = []
        self.whole_reads = 0

    def get_range(self, key: str, start: int, length: int) -> bytes:
        self.ranges.append(length)
        return super().get_range(key, start, length)

    def get_bytes(self, key: str) -> bytes:
        self.whole_reads += 1
        return super().get_bytes(key)

    def open_buffer(self, key: str) -> memoryview:
        self.whole_reads += 1
        return super().open_buffer(key)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ["a", {"b": 1}, (2, 3), None],
        lambda: ("a", {"b": 1}, (2, 3), None),
        lambda: range(5, 50, 5),
        lambda: {"x", "y", "z", 1, 2},
        lambda: (i * i for i in range(7)),
        lambda: iter([b"bytes", 1.5]),
        lambda: "abc",
        lambda: {"k1": 1, "k2": 2},
    ],
    ids=["list", "tuple", "range", "set", "generator", "iterator", "str", "dict-keys"],
)
def test_items_come_back_in_iteration_order(blobs: BlobStore, make: Any) -> None:
    expected = list(make())
    ref = save_items(blobs, "F", make(), max_items=100)
    assert ref.count == len(expected)
    assert [load_item(blobs, ref, i) for i in range(ref.count)] == expected
    assert list(iter_items(blobs, ref)) == expected


def test_set_order_is_the_one_iteration_gave_and_stays_fixed(blobs: BlobStore) -> None:
    items = {f"item-{i}" for i in range(50)}
    ref = save_items(blobs, "F", items, max_items=100)
    stored = list(iter_items(blobs, ref))
    assert stored == list(items)
    assert [load_item(blobs, ref, i) for i in reversed(range(50))] == stored[::-1]


def test_the_iterable_is_materialized_exactly_once(blobs: BlobStore) -> None:
    source = OnceOnly([1, 2, 3])
    ref = save_items(blobs, "F", source, max_items=10)
    assert source.iterations == 1 and source.given == 3
    assert load_item(blobs, ref, 2) == 3
    consumed: list[int] = []

    def gen_items() -> Iterator[int]:
        for i in range(4):
            consumed.append(i)
            yield i

    gen = gen_items()
    ref = save_items(blobs, "F", gen, max_items=10)
    assert consumed == [0, 1, 2, 3] and next(gen, "done") == "done"
    assert load_item(blobs, ref, 3) == 3


def test_load_item_reads_only_that_item() -> None:
    blobs = ReadSpy()
    items = [bytes([i]) * 10_000 for i in range(100)]
    ref = save_items(blobs, "F", items, max_items=1000)
    total = blobs.size(ref.blob_key)
    assert load_item(blobs, ref, 57) == items[57]
    assert blobs.whole_reads == 0
    assert sum(blobs.ranges) < 10_100 and total > 1_000_000
    with pytest.raises(IndexError, match="100 items"):
        load_item(blobs, ref, 100)
    with pytest.raises(IndexError):
        load_item(blobs, ref, -1)


def test_equal_items_are_stored_once_and_refs_round_trip(blobs: BlobStore) -> None:
    a = save_items(blobs, "F", [1, 2, 3], max_items=10)
    b = save_items(ContentAddressedStore(blobs, "F"), "F", (x for x in (1, 2, 3)), max_items=10)
    assert a == b
    assert blobs.list("F") == [a.blob_key]
    assert ForeachRef.from_dict(a.to_dict()) == a
    with pytest.raises(ValueError, match="flow"):
        save_items(ContentAddressedStore(blobs, "F"), "G", [1], max_items=10)


def test_too_many_items_names_count_limit_and_fix(blobs: BlobStore) -> None:
    with pytest.raises(TooManySplitsError) as info:
        save_items(blobs, "F", list(range(1500)), max_items=1000, name="grid", step="start")
    err = info.value
    assert "1,500 items" in err.message and "1,000" in err.message and "self.grid" in err.message
    assert err.step == "start" and err.fix and "--max-num-splits" in err.fix
    assert blobs.list("") == []


def test_an_endless_generator_stops_at_the_limit(blobs: BlobStore) -> None:
    counter = itertools.count()
    with pytest.raises(TooManySplitsError, match="more than 100"):
        save_items(blobs, "F", counter, max_items=100)
    assert next(counter) == 101  # consumed max_items + 1 items, no more


def test_zero_items_is_refused(blobs: BlobStore) -> None:
    empties: list[Any] = [[], (), range(0), iter([]), set()]
    for empty in empties:
        with pytest.raises(EmptyForeachError, match="zero items") as info:
            save_items(blobs, "F", empty, max_items=10, name="grid", step="start")
        assert isinstance(info.value, InvalidNextError) and info.value.step == "start"
    assert blobs.list("") == []


def test_not_iterable_and_failing_iterables(blobs: BlobStore) -> None:
    with pytest.raises(InvalidNextError, match="needs an iterable, not int"):
        save_items(blobs, "F", 42, max_items=10)  # type: ignore[arg-type]

    def failing() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    with pytest.raises(InvalidNextError, match="item 1: OSError: disk gone"):
        save_items(blobs, "F", failing(), max_items=10)


def test_an_unpicklable_item_is_named(blobs: BlobStore) -> None:
    with pytest.raises(ArtifactSerializationError, match="item 1 of the foreach") as info:
        save_items(blobs, "F", [1, lambda: 2], max_items=10)
    assert info.value.type_name == "function"


def test_numpy_array_rows() -> None:
    np = pytest.importorskip("numpy")
    blobs = MemoryBlobStore()
    ref = save_items(blobs, "F", np.arange(12).reshape(4, 3), max_items=10)
    assert ref.count == 4 and load_item(blobs, ref, 2).tolist() == [6, 7, 8]  # type: ignore[attr-defined]


def test_pandas_series_values() -> None:
    pd = pytest.importorskip("pandas")
    blobs = MemoryBlobStore()
    series = pd.Series([0.5, 1.5, 2.5], name="alpha")
    ref = save_items(blobs, "F", series, max_items=10)
    assert [load_item(blobs, ref, i) for i in range(3)] == [0.5, 1.5, 2.5]
