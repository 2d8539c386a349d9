"""Foreach items: stored once per split, read one at a time.

Metaflow hands every foreach task the whole list and lets it pick its item, so a
10,000-way foreach over big items reads the list 10,000 times. Here the split
materializes its iterable exactly once, in iteration order, into one
content-addressed blob with a table of offsets and checksums, and task ``i``
reads the header, its table entries and item ``i`` only (three range reads)::

    offset     size        field
    0          4           magic b"GFE2"
    4          4           reserved (0)
    8          8           item count n
    16         16*(n+1)    entries (offset u64, crc32 u32, reserved u32): item i
                           is bytes [off[i], off[i+1]) and its crc32 is crc[i];
                           entry n holds the end offset (and crc 0)
    off[0]     ...         each item, pickled (protocol 5, in-band)

A task reads only its item, so the blob's sha1 (its key) cannot be checked on
that path: the item's crc32 is, and a damaged item is an error naming the blob,
never a wrong value. Reading every item (:func:`iter_items`) checks the sha1.
Tables written before checksums (magic ``GFE1``: 8-byte offsets only) still load.

Any iterable works: a list, tuple, range, a generator (consumed once), a set
(stored in the order iterating it gave, which then holds for every reader), a
pandas Series (its values). A foreach over zero items is refused, as Metaflow
does: a fan-out to no task has no sensible join.
"""

from __future__ import annotations

import pickle
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from grange.datastore.backend import BlobStore
from grange.datastore.cas import ContentAddressedStore, data_key
from grange.datastore.serialize import sha1_of, type_name
from grange.exceptions import (
    ArtifactSerializationError,
    DamagedBlobError,
    EmptyForeachError,
    InvalidNextError,
    TooManySplitsError,
)

MAGIC = b"GFE2"
MAGIC_V1 = b"GFE1"
_HEAD = struct.Struct("<4sIQ")
_ENTRY = struct.Struct("<QII")
_PAIR_V2 = struct.Struct("<QIIQ")  # entry i, then the offset of entry i + 1
_PAIR_V1 = struct.Struct("<QQ")


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
    table = bytearray(_ENTRY.size * (len(items) + 1))
    offset = _HEAD.size + len(table)
    for i, item in enumerate(items):
        _ENTRY.pack_into(table, i * _ENTRY.size, offset, zlib.crc32(item), 0)
        offset += len(item)
    _ENTRY.pack_into(table, len(items) * _ENTRY.size, offset, 0, 0)
    chunks: list[bytes | bytearray] = [_HEAD.pack(MAGIC, 0, len(items)), table]
    chunks.extend(items)
    key = sha1_of(memoryview(c) for c in chunks)
    cas.put_chunks(key, chunks)
    return ForeachRef(key=key, count=len(items), flow=flow)


def load_item(blobs: BlobStore, ref: ForeachRef, index: int) -> object:
    """Item ``index`` of the split, reading only its offsets and its bytes.

    A damaged local copy of a remote split (its cache) is dropped and the stored
    split read again, once."""
    if not 0 <= index < ref.count:
        raise IndexError(f"foreach index {index} out of range (the split has {ref.count} items)")
    try:
        return _load_item(blobs, ref, index)
    except DamagedBlobError:
        if not blobs.drop_local_copy(ref.blob_key):
            raise
    return _load_item(blobs, ref, index)


def _load_item(blobs: BlobStore, ref: ForeachRef, index: int) -> object:
    magic, _, count = _HEAD.unpack(_exact(blobs, ref, 0, _HEAD.size))
    if count != ref.count or magic not in (MAGIC, MAGIC_V1):
        raise _damaged(blobs, ref, "its header does not describe this split")
    if magic == MAGIC_V1:
        start, end = _PAIR_V1.unpack(_exact(blobs, ref, _HEAD.size + 8 * index, _PAIR_V1.size))
        crc = None
    else:
        entry = _HEAD.size + _ENTRY.size * index
        start, crc, _, end = _PAIR_V2.unpack(_exact(blobs, ref, entry, _PAIR_V2.size))
    if not _HEAD.size <= start <= end:
        raise _damaged(blobs, ref, f"the offsets of item {index} are damaged")
    data = _exact(blobs, ref, start, end - start)
    if crc is not None and zlib.crc32(data) != crc:
        raise _damaged(blobs, ref, f"item {index} does not match its checksum")
    try:
        return pickle.loads(data)
    except Exception as err:
        raise _damaged(blobs, ref, f"item {index} cannot be unpickled ({err})") from err


def _exact(blobs: BlobStore, ref: ForeachRef, start: int, length: int) -> bytes:
    """``length`` bytes at ``start`` of the split's blob; a short read means damage."""
    data = blobs.get_range(ref.blob_key, start, length)
    if len(data) != length:
        raise _damaged(blobs, ref, "it is shorter than its table says")
    return data


def _damaged(blobs: BlobStore, ref: ForeachRef, reason: str) -> DamagedBlobError:
    return DamagedBlobError(
        f"the stored foreach split {blobs.url(ref.blob_key)} is damaged: {reason}",
        fix="run the step that made the foreach again (a new run, or resume from that "
        "step): saving the same items replaces the damaged blob",
    )


def iter_items(blobs: BlobStore, ref: ForeachRef) -> Iterator[object]:
    """Every item of the split, in order, from one read of the blob."""
    view = blobs.open_buffer(ref.blob_key)
    if sha1_of((view,)) != ref.key and blobs.drop_local_copy(ref.blob_key):
        view = blobs.open_buffer(ref.blob_key)  # a damaged local copy: read the stored one
    if sha1_of((view,)) != ref.key:
        raise _damaged(blobs, ref, f"it does not hash to {ref.key}")
    magic, _, count = _HEAD.unpack_from(view)
    if magic not in (MAGIC, MAGIC_V1) or count != ref.count:
        raise ValueError(f"blob {ref.blob_key} is not the foreach split {ref}")
    if magic == MAGIC_V1:
        offsets = list(struct.unpack_from(f"<{count + 1}Q", view, _HEAD.size))
    else:
        offsets = [
            _ENTRY.unpack_from(view, _HEAD.size + _ENTRY.size * i)[0] for i in range(count + 1)
        ]
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
