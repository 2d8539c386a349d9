"""The byte backend: a flat map from keys to immutable blobs.

A key is a relative, ``/``-separated path (``TrainFlow/data/1c/1cb2...``).
No part of a key may be empty, ``.``, ``..`` or start with a dot: names that
start with a dot are reserved for a backend's temporary files, which therefore
never show up in :meth:`BlobStore.list`.

Every write is all-or-nothing: a reader sees either no blob or the whole blob,
never a prefix, even if the writer dies in the middle (see
:class:`grange.datastore.local.LocalBlobStore` for how the local disk does it).
:class:`MemoryBlobStore` is the in-memory twin used by unit tests.
"""

from __future__ import annotations

import abc
import builtins
import hashlib
import threading
from collections.abc import Callable, Iterable, Sequence

from grange.exceptions import BlobNotFound

Chunk = bytes | bytearray | memoryview


def check_key(key: str) -> str:
    """Return ``key`` if it is a valid blob key, else raise ``ValueError``."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"a blob key must be a non-empty string, not {key!r}")
    for part in key.split("/"):
        if not part or part in (".", "..") or part.startswith(".") or "\\" in part:
            raise ValueError(
                f"invalid blob key {key!r}: parts must be non-empty and not start with '.'"
            )
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix: a key, or ``''`` for everything; trailing ``/`` ignored."""
    prefix = prefix.strip("/")
    return check_key(prefix) if prefix else ""


def as_bytes_view(chunk: Chunk) -> memoryview:
    """A flat, unsigned-byte view of ``chunk`` (no copy)."""
    view = memoryview(chunk)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


class BlobStore(abc.ABC):
    """Where the bytes live: local disk, memory, or an object store (S3)."""

    #: Whether :meth:`append_bytes` is cheap. Object stores cannot append: a
    #: :class:`~grange.datastore.logs.LogSink` then uploads whole logs instead.
    can_append: bool = True

    @abc.abstractmethod
    def put_chunks(self, key: str, chunks: Iterable[Chunk], *, overwrite: bool = False) -> bool:
        """Store the concatenation of ``chunks`` under ``key``, atomically.

        Returns ``False`` and writes nothing when ``key`` exists and
        ``overwrite`` is false. If iterating ``chunks`` raises, nothing becomes
        visible and the error propagates.
        """

    def put_bytes(self, key: str, data: Chunk, *, overwrite: bool = False) -> bool:
        """:meth:`put_chunks` with a single chunk."""
        return self.put_chunks(key, (data,), overwrite=overwrite)

    def put_content(
        self, chunks: Sequence[Chunk], key_of: Callable[[], str], *, size: int
    ) -> tuple[str, bool]:
        """Store content under a key derived from it, unless that key exists.

        ``key_of()`` computes the key (typically by hashing ``chunks``).
        Returns the key and whether this call wrote the blob. Backends may
        override it to hash and write at the same time; this default hashes
        first, so a duplicate costs no write.
        """
        key = key_of()
        if self.exists(key):
            return key, False
        return key, self.put_chunks(key, chunks)

    def put_many(
        self, items: Iterable[tuple[str, Sequence[Chunk]]], *, overwrite: bool = False
    ) -> builtins.list[bool]:
        """:meth:`put_chunks` for each ``(key, chunks)``; whether each was written.

        Backends with a round trip per request (S3) write them concurrently;
        this default writes them one after the other.
        """
        return [self.put_chunks(key, chunks, overwrite=overwrite) for key, chunks in items]

    @abc.abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The whole blob; :class:`BlobNotFound` if absent."""

    @abc.abstractmethod
    def get_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes from offset ``start`` (fewer at the end of the blob)."""

    @abc.abstractmethod
    def open_buffer(self, key: str) -> memoryview:
        """A writable view of the whole blob; writing to it never changes the blob.

        Backends make it as lazy and copy-free as they can (the local disk maps
        the file copy-on-write), so unpickled arrays can point into it.
        """

    def sha1(self, key: str) -> str:
        """Hex sha1 of the blob's bytes; backends stream it without keeping the blob."""
        return hashlib.sha1(self.get_bytes(key), usedforsecurity=False).hexdigest()

    def drop_local_copy(self, key: str) -> bool:
        """Forget a local copy of ``key`` (a cache of a remote store) found damaged, so
        that the next read fetches the stored blob; whether there was one to forget."""
        return False

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether a complete blob is stored under ``key``."""

    @abc.abstractmethod
    def size(self, key: str) -> int:
        """Size in bytes; :class:`BlobNotFound` if absent."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Sorted keys under the folder ``prefix`` (recursively); ``''`` lists all."""

    @abc.abstractmethod
    def children(self, prefix: str = "") -> builtins.list[str]:
        """Sorted names directly under the folder ``prefix``: blobs and folders alike."""

    @abc.abstractmethod
    def delete(self, key: str) -> bool:
        """Remove ``key``; returns whether it existed."""

    @abc.abstractmethod
    def append_bytes(self, key: str, data: Chunk) -> None:
        """Append to ``key``, creating it if needed. For logs only: not atomic."""

    @abc.abstractmethod
    def url(self, key: str) -> str:
        """Where ``key`` lives, for messages (``file:///...``)."""

    @abc.abstractmethod
    def describe(self) -> str:
        """The store itself, for messages: ``local datastore at /x/.grange``."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.describe()}>"


class MemoryBlobStore(BlobStore):
    """A dict of blobs, for tests. Thread-safe; not shared across processes."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put_chunks(self, key: str, chunks: Iterable[Chunk], *, overwrite: bool = False) -> bool:
        check_key(key)
        if not overwrite and key in self._blobs:
            return False
        data = bytearray()
        for chunk in chunks:
            data += as_bytes_view(chunk)
        with self._lock:
            if not overwrite and key in self._blobs:
                return False
            self._blobs[key] = bytes(data)
        return True

    def _get(self, key: str) -> bytes:
        try:
            return self._blobs[check_key(key)]
        except KeyError:
            raise BlobNotFound(key, self.describe()) from None

    def get_bytes(self, key: str) -> bytes:
        return self._get(key)

    def get_range(self, key: str, start: int, length: int) -> bytes:
        return self._get(key)[start : start + length]

    def open_buffer(self, key: str) -> memoryview:
        return memoryview(bytearray(self._get(key)))

    def exists(self, key: str) -> bool:
        return check_key(key) in self._blobs

    def size(self, key: str) -> int:
        return len(self._get(key))

    def list(self, prefix: str = "") -> list[str]:
        folder = check_prefix(prefix)
        start = folder + "/" if folder else ""
        with self._lock:
            return sorted(k for k in self._blobs if k.startswith(start))

    def children(self, prefix: str = "") -> builtins.list[str]:
        folder = check_prefix(prefix)
        start = folder + "/" if folder else ""
        with self._lock:
            return sorted(
                {k[len(start) :].split("/", 1)[0] for k in self._blobs if k.startswith(start)}
            )

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._blobs.pop(check_key(key), None) is not None

    def append_bytes(self, key: str, data: Chunk) -> None:
        check_key(key)
        with self._lock:
            self._blobs[key] = self._blobs.get(key, b"") + bytes(as_bytes_view(data))

    def url(self, key: str) -> str:
        return f"memory://{check_key(key)}"

    def describe(self) -> str:
        return "in-memory datastore"
