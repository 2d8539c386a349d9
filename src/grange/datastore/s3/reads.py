"""Reading blobs from S3: whole, by range, as a mapped buffer, and their hashes.

A content-addressed blob (``<Flow>/data/<xx>/<sha1>``) is read through a file:
the :mod:`~grange.datastore.s3.cache` file if this machine has it, else one
streamed GET (or parallel ranged GETs, when asked for) into a new cache file,
or into an unnamed temporary file for a blob bigger than the cache. Big blobs
are then mapped copy-on-write, so a load holds the blob once, as the local
store's loads do. Other keys (records, logs) are small and read into memory.

:meth:`Reads.sha1` hashes the very bytes the last read handed out: computed
while downloading, or from the cached file that was mapped (still the same
file), so that :mod:`~grange.datastore.cas` checks what it loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import tempfile
import threading
from collections import OrderedDict
from typing import IO, TYPE_CHECKING, Any, NoReturn

import obstore

from grange.datastore.s3.cache import BlobCache, data_hash
from grange.datastore.s3.connect import s3_error_code
from grange.datastore.s3.settings import S3Settings
from grange.datastore.s3.transfer import (
    STREAM_CHUNK,
    download,
    download_ranges,
    hash_file,
)

if TYPE_CHECKING:
    from obstore.store import S3Store

#: Blobs smaller than this are read into memory; larger ones are mapped from a file.
MMAP_THRESHOLD = 256 * 1024
#: A content-addressed blob read by range is cached whole if at most this large.
WHOLE_MAX = 16 * 1024 * 1024
#: Hashes of the bytes last handed out per key, kept for :meth:`Reads.sha1`.
SERVED_KEEP = 64


class Reads:
    """The reading half of :class:`~grange.datastore.s3.blobstore.S3BlobStore`."""

    bucket: str
    settings: S3Settings
    cache: BlobCache | None
    ranged_get: bool
    _served: OrderedDict[str, str | tuple[str, int]]
    _served_lock: threading.Lock

    # Provided by the store.
    @property
    def _store(self) -> S3Store:
        raise NotImplementedError

    def _full(self, key: str) -> str:
        raise NotImplementedError

    def _fail(self, err: BaseException, key: str | None, doing: str) -> NoReturn:
        raise NotImplementedError

    def _head(self, key: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def size(self, key: str) -> int:
        raise NotImplementedError

    def get_bytes(self, key: str) -> bytes:
        if data_hash(key) is not None:  # through a file: one copy of a big blob
            with contextlib.closing(self._open_file(key)) as f:
                return f.read()
        try:
            return obstore.get(self._store, self._full(key)).bytes().to_bytes()
        except Exception as err:
            self._fail(err, key, "read")

    def get_range(self, key: str, start: int, length: int) -> bytes:
        name = data_hash(key)
        if name is not None and self.cache is not None:
            cached = self.cache.open(self.bucket, name)
            if cached is not None:
                with cached:
                    return os.pread(cached.fileno(), max(length, 0), start)
        if length <= 0:
            self.size(key)  # BlobNotFound if absent
            return b""
        try:
            result = obstore.get(
                self._store, self._full(key), options={"range": (start, start + length)}
            )
            data = result.bytes().to_bytes()
        except Exception as err:
            if s3_error_code(err) == "InvalidRange":  # starts at or past the end
                self.size(key)
                return b""
            self._fail(err, key, "read")
        if name is not None and self.cache is not None and result.meta["size"] <= WHOLE_MAX:
            # A small blob read in pieces (a foreach table: every task of the split
            # reads three pieces): fetch it whole once, for the next reads here.
            self._open_file(key).close()
        return data

    def open_buffer(self, key: str) -> memoryview:
        """A writable view: small blobs in memory, larger ones mapped copy-on-write
        from the cached (or a temporary) file, downloaded in one streamed GET."""
        if data_hash(key) is None:
            try:
                data = obstore.get(self._store, self._full(key)).bytes()
            except Exception as err:
                self._fail(err, key, "read")
            return memoryview(bytearray(data))
        with contextlib.closing(self._open_file(key)) as f:
            size = os.fstat(f.fileno()).st_size
            if size < MMAP_THRESHOLD:
                buffer = bytearray(size)
                view = memoryview(buffer)
                got = 0
                while got < size and (n := os.preadv(f.fileno(), [view[got:]], got)):
                    got += n
                return view[:got]
            return memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY))

    def _open_file(self, key: str) -> IO[bytes]:
        """A file holding the content-addressed blob ``key``, open at offset 0."""
        name = data_hash(key)
        assert name is not None
        if self.cache is not None:
            cached = self.cache.open(self.bucket, name)
            if cached is not None:
                self._remember(key, (cached.name, os.fstat(cached.fileno()).st_ino))
                return cached
        part = self.settings.part_size
        meta = self._head(key) if self.ranged_get else None
        if meta is not None and int(meta["size"]) >= 2 * part:
            size = int(meta["size"])

            def fetch(f: IO[bytes]) -> str:
                return download_ranges(
                    self._store,
                    self._full(key),
                    size,
                    f,
                    part_size=part,
                    concurrency=self.settings.max_concurrency,
                )
        else:
            try:
                result = obstore.get(self._store, self._full(key))
            except Exception as err:
                self._fail(err, key, "read")
            size = int(result.meta["size"])

            def fetch(f: IO[bytes]) -> str:
                return download(result, f)

        f, temp = self._new_file(name, size)
        try:
            try:
                digest = fetch(f)
            except Exception as err:
                self._fail(err, key, "read")
            if temp is not None and self.cache is not None and digest == name:
                with contextlib.suppress(OSError):  # only intact blobs are cached
                    self.cache.publish(temp, self.bucket, name, size)
                    temp = None
            f.seek(0)
        except BaseException:
            f.close()
            raise
        finally:
            if temp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
        self._remember(key, digest)
        return f

    def _new_file(self, name: str, size: int) -> tuple[IO[bytes], str | None]:
        """A file to download into: a temporary one in the cache (and its name), or,
        for a blob bigger than the cache or without a usable cache, an unnamed one."""
        if self.cache is not None:
            with contextlib.suppress(OSError):  # a read-only or full cache: not cached
                if size <= self.cache.limit:
                    return self.cache.new_file(self.bucket, name)
                os.makedirs(self.cache.root, exist_ok=True)
                return tempfile.TemporaryFile(dir=self.cache.root), None
        return tempfile.TemporaryFile(), None

    def _remember(self, key: str, served: str | tuple[str, int]) -> None:
        """Keep what the last read of ``key`` handed out: its hash, or its cached file."""
        with self._served_lock:
            self._served.pop(key, None)
            self._served[key] = served
            while len(self._served) > SERVED_KEEP:
                self._served.popitem(last=False)

    def sha1(self, key: str) -> str:
        """The hash of the bytes the last :meth:`open_buffer` of ``key`` handed out
        (computed while downloading, or of the very cached file it mapped), else of
        the stored object, streamed. A cached file that fails it is removed."""
        with self._served_lock:
            served = self._served.pop(key, None)
        if isinstance(served, str):
            return served
        if served is not None:
            cached = hash_file(*served)
            if cached is not None:
                name = data_hash(key)
                if name is not None and cached != name and self.cache is not None:
                    self.cache.discard(self.bucket, name)
                return cached
        digest = hashlib.sha1(usedforsecurity=False)
        try:
            for piece in obstore.get(self._store, self._full(key)).stream(STREAM_CHUNK):
                digest.update(piece)
        except Exception as err:
            self._fail(err, key, "read")
        return digest.hexdigest()
