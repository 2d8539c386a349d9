"""The datastore: content-addressed artifact blobs, attempt records and logs.

Layers, bottom up: a :class:`BlobStore` stores bytes under keys
(:class:`LocalBlobStore` on disk, :class:`MemoryBlobStore` for tests);
:mod:`~grange.datastore.serialize` turns objects into chunks and back (pickle
protocol 5, zero-copy buffers); :class:`ContentAddressedStore` keeps each
flow's artifacts once by content; :mod:`~grange.datastore.records`,
:mod:`~grange.datastore.foreach` and :mod:`~grange.datastore.logs` lay out what
a task attempt leaves behind. Nothing here knows what a step is.
"""

from grange.datastore.backend import BlobStore, MemoryBlobStore
from grange.datastore.cas import ArtifactRef, ContentAddressedStore
from grange.datastore.foreach import ForeachRef, iter_items, load_item, save_items
from grange.datastore.local import LocalBlobStore
from grange.datastore.location import DatastoreLocation, resolve_location
from grange.datastore.logs import LogSink, log_key, read_log
from grange.datastore.records import (
    AttemptRecord,
    TaskPaths,
    latest_record,
    list_attempts,
    read_record,
    write_record,
)
from grange.datastore.root import find_datastore_root
from grange.datastore.serialize import Serialized, deserialize, serialize
from grange.exceptions import ArtifactSerializationError, BlobNotFound, TooManySplitsError

__all__ = [
    "ArtifactRef",
    "ArtifactSerializationError",
    "AttemptRecord",
    "BlobNotFound",
    "BlobStore",
    "ContentAddressedStore",
    "DatastoreLocation",
    "ForeachRef",
    "LocalBlobStore",
    "LogSink",
    "MemoryBlobStore",
    "Serialized",
    "TaskPaths",
    "TooManySplitsError",
    "deserialize",
    "find_datastore_root",
    "iter_items",
    "latest_record",
    "list_attempts",
    "load_item",
    "log_key",
    "read_log",
    "read_record",
    "resolve_location",
    "save_items",
    "serialize",
    "write_record",
]
