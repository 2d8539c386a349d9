"""The spin store: where ``spin`` keeps the steps it re-runs, apart from real runs.

``python flow.py spin STEP`` re-runs one step of an earlier run. Its results
must never read as a run of the flow (``Flow(...).runs()``, the latest run, a
``resume`` origin, the UI, ``@trigger_on_finish``), so they live in a datastore
of their own, with its own index::

    <root>/.spin/                 a local datastore root
    <root>/.spin/<Flow>/<run>/... the spin runs' records, logs and cards
    <root>/.spin/metadata.db      their index (runs spin-1, spin-2, ...)
    <root>/.spin/origin.json      the datastore the spin runs read from

The original datastore never lists ``.spin`` (names that start with a dot are
not keys), so nothing that reads runs sees them. For a datastore in S3 the spin
store is local all the same, in this machine's cache beside the S3 store's
index: spinning is an edit loop on one machine.

A spun task inherits most of its artifacts by reference, from blobs of the
original run: copying a 1 GiB array to re-run a step would defeat the loop.
:class:`SpinBlobStore` therefore reads content blobs (``<flow>/data/...``)
from the spin store first and from the original datastore next; records,
claims, logs and listings come from the spin store alone, so that the spin
index holds spin runs only. Writes go to the spin store; the original is
never written.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable

from grange.datastore.backend import BlobStore, Chunk
from grange.datastore.location import DatastoreLocation

SPIN_DIR = ".spin"
ORIGIN_FILE = "origin.json"


def spin_location(origin: DatastoreLocation) -> DatastoreLocation:
    """Where the spin runs of datastore ``origin`` are kept (always a local directory)."""
    if origin.is_local:
        return DatastoreLocation(str(origin.path / SPIN_DIR))
    return DatastoreLocation(str(origin.index_dir / "spin"))


def is_data_key(key: str) -> bool:
    """A content blob (``<flow>/data/...``): artifacts and foreach items."""
    parts = key.split("/", 2)
    return len(parts) == 3 and parts[1] == "data"


class SpinBlobStore(BlobStore):
    """The spin store (``top``) over the original datastore (``base``), read-only there.

    Content blobs are read from ``top``, else ``base``; every other key, and
    every listing, from ``top`` alone. All writes go to ``top``.
    """

    def __init__(self, top: BlobStore, base: BlobStore) -> None:
        self.top = top
        self.base = base
        self.can_append = top.can_append

    def _reader(self, key: str) -> BlobStore:
        if is_data_key(key) and not self.top.exists(key):
            return self.base
        return self.top

    def put_chunks(self, key: str, chunks: Iterable[Chunk], *, overwrite: bool = False) -> bool:
        return self.top.put_chunks(key, chunks, overwrite=overwrite)

    def get_bytes(self, key: str) -> bytes:
        return self._reader(key).get_bytes(key)

    def get_range(self, key: str, start: int, length: int) -> bytes:
        return self._reader(key).get_range(key, start, length)

    def open_buffer(self, key: str) -> memoryview:
        return self._reader(key).open_buffer(key)

    def sha1(self, key: str) -> str:
        return self._reader(key).sha1(key)

    def drop_local_copy(self, key: str) -> bool:
        return self._reader(key).drop_local_copy(key)

    def exists(self, key: str) -> bool:
        return self.top.exists(key) or (is_data_key(key) and self.base.exists(key))

    def size(self, key: str) -> int:
        return self._reader(key).size(key)

    def list(self, prefix: str = "") -> builtins.list[str]:
        return self.top.list(prefix)

    def children(self, prefix: str = "") -> builtins.list[str]:
        return self.top.children(prefix)

    def delete(self, key: str) -> bool:
        return self.top.delete(key)

    def append_bytes(self, key: str, data: Chunk) -> None:
        self.top.append_bytes(key, data)

    def url(self, key: str) -> str:
        return self._reader(key).url(key)

    def describe(self) -> str:
        return f"spin store {self.top.describe()} over {self.base.describe()}"


def record_origin(top: BlobStore, origin: DatastoreLocation) -> None:
    """Note in the spin store which datastore its runs read from (once)."""
    payload = json.dumps({"datastore_root": str(origin)}).encode()
    if not top.exists(ORIGIN_FILE):
        top.put_bytes(ORIGIN_FILE, payload)


def read_origin(top: BlobStore) -> DatastoreLocation | None:
    """The datastore the spin store's runs read from, ``None`` if it has none yet."""
    if not top.exists(ORIGIN_FILE):
        return None
    try:
        root = json.loads(top.get_bytes(ORIGIN_FILE))["datastore_root"]
    except (ValueError, KeyError, TypeError):
        return None
    return DatastoreLocation.of(str(root))
