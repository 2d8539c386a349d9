"""Foreach items: stored once per split, read one at a time.

Metaflow hands every foreach task the whole list and lets it pick its item, so a
10,000-way foreach over big items reads the list 10,000 times. Here the split
materializes its iterable exactly once, in iteration order, into one
content-addressed blob with an offsets table, and task ``i`` reads the table
entry and item ``i`` only (two range reads)::

    offset     size        field
    0          4           magic b"GFE1"
    4          4           reserved (0)
    8          8           item count n
    16         8*(n+1)     absolute offsets; item i is bytes [off[i], off[i+1])
    off[0]     ...         each item, pickled (protocol 5, in-band)

Any iterable works: a list, tuple, range, a generator (consumed once), a set
(stored in the order iterating it gave, which then holds for every reader), a
pandas Series (its values). A foreach over zero items is refused, as Metaflow
does: a fan-out to no task has no sensible join.
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from grange.datastore.backend import BlobStore
from grange.datastore.cas import ContentAddressedStore, data_key
from grange.datastore.serialize import sha1_of, type_name
from grange.exceptions import (
    ArtifactSerializationError,
    EmptyForeachError,
    InvalidNextError,
    TooManySplitsError,
)

MAGIC = b"GFE1"
_HEAD = struct.Struct("<4sIQ")
_PAIR = struct.Struct("<QQ")


@dataclass(frozen=True)
class ForeachRef:
    """A stored foreach split: ``count`` items in blob ``key`` of ``flow``'s store."""

    key: str
    count: int
    flow: str

    @property
    def blob_key(self) -> str:
        return data_key(self.flow, self.key)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "count": self.count, "flow": self.flow}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ForeachRef:
        return cls(key=str(data["key"]), count=int(data["count"]), flow=str(data["flow"]))


def save_items(
    store: ContentAddressedStore | BlobStore,
    flow: str,
    iterable: Iterable[object],
    *,
    max_items: int,
    name: str | None = None,
    step: str | None = None,
) -> ForeachRef:
    """Iterate ``iterable`` once and store its items; see the module doc.

    Raises :class:`TooManySplitsError` as soon as item ``max_items + 1``
    appears (an endless generator is not drained), and
    :class:`EmptyForeachError` for zero items. ``name`` (the foreach
    variable) and ``step`` only improve messages.
    """
    cas = store if isinstance(store, ContentAddressedStore) else ContentAddressedStore(store, flow)
    if cas.flow != flow:
        raise ValueError(f"store is for flow {cas.flow!r}, not {flow!r}")
    what = f"foreach over self.{name}" if name else "foreach"
    size = _known_len(iterable)
    if size is not None and size > max_items:
        raise _too_many(what, f"{size:,}", max_items, step)
    try:
        iterator = iter(iterable)
    except TypeError as e:
        raise InvalidNextError(
            f"{what} needs an iterable, not {type(iterable).__name__}",
            step=step,
            fix="give foreach= the name of an attribute holding a list, tuple, range or iterator",
        ) from e
    items = list(_pickled(iterator, max_items, what, step))
    if not items:
        raise EmptyForeachError(
            f"{what} produced zero items",
            step=step,
            fix="check the variable: a foreach needs at least one item; "
            "branch around the foreach when there is nothing to do",
        )
    offsets = [_HEAD.size + 8 * (len(items) + 1)]
    for item in items:
        offsets.append(offsets[-1] + len(item))
    chunks = [_HEAD.pack(MAGIC, 0, len(items)), struct.pack(f"<{len(offsets)}Q", *offsets)]
    chunks.extend(items)
    key = sha1_of(chunks)
    cas.put_chunks(key, chunks)
    return ForeachRef(key=key, count=len(items), flow=flow)


def load_item(blobs: BlobStore, ref: ForeachRef, index: int) -> object:
    """Item ``index`` of the split, reading only its offsets and its bytes."""
    if not 0 <= index < ref.count:
        raise IndexError(f"foreach index {index} out of range (the split has {ref.count} items)")
    start, end = _PAIR.unpack(blobs.get_range(ref.blob_key, _HEAD.size + 8 * index, _PAIR.size))
    return pickle.loads(blobs.get_range(ref.blob_key, start, end - start))


def iter_items(blobs: BlobStore, ref: ForeachRef) -> Iterator[object]:
    """Every item of the split, in order, from one read of the blob."""
    view = blobs.open_buffer(ref.blob_key)
    magic, _, count = _HEAD.unpack_from(view)
    if magic != MAGIC or count != ref.count:
        raise ValueError(f"blob {ref.blob_key} is not the foreach split {ref}")
    offsets = struct.unpack_from(f"<{count + 1}Q", view, _HEAD.size)
    for i in range(count):
        yield pickle.loads(view[offsets[i] : offsets[i + 1]])


def _pickled(
    iterator: Iterator[object], max_items: int, what: str, step: str | None
) -> Iterator[bytes]:
    index = 0
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except Exception as e:
            raise InvalidNextError(
                f"{what} failed while producing item {index}: {type(e).__name__}: {e}",
                step=step,
            ) from e
        if index >= max_items:
            raise _too_many(what, f"more than {max_items:,}", max_items, step)
        try:
            yield pickle.dumps(item, protocol=5)
        except Exception as e:
            raise ArtifactSerializationError(
                f"item {index} of the {what} ({type_name(item)}) cannot be saved: {e}",
                type_name=type_name(item),
                original=e,
                step=step,
                fix="make the items picklable: plain values, paths or ids, "
                "and build the unpicklable object inside the foreach step",
            ) from e
        index += 1


def _known_len(iterable: object) -> int | None:
    """How many items iterating will give, for builtin containers, without iterating.

    Other types are counted by iterating: ``len`` of a DataFrame counts rows,
    but iterating it gives columns.
    """
    if isinstance(iterable, (list, tuple, range, set, frozenset, dict, str, bytes)):
        return len(iterable)
    return None


def _too_many(what: str, count: str, max_items: int, step: str | None) -> TooManySplitsError:
    return TooManySplitsError(
        f"{what} has {count} items, more than the limit of {max_items:,}",
        step=step,
        fix="raise the limit with --max-num-splits (e.g. run --max-num-splits N), "
        "or split the work into fewer, larger items",
    )
