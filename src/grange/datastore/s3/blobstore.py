"""Blobs as objects of an S3 bucket, under a key prefix (``s3://bucket/prefix``).

The same keys, layout and guarantees as :class:`~grange.datastore.local.LocalBlobStore`:

* **All or nothing**: a blob is one PUT, or a multipart upload that becomes
  visible only when completed; an upload that fails (or whose chunks raise) is
  aborted, and one whose process is killed stays invisible (its parts are
  billed until the bucket's lifecycle rule removes them: see docs/s3.md).
* **Big blobs stream**: the serializer's chunks (views of NumPy buffers) go to a
  parallel multipart upload as they are, never joined into one bytes object; a
  download goes to a file (the :mod:`~grange.datastore.s3.cache` of immutable
  blobs, or an unnamed temporary file) that is mapped copy-on-write, so a load
  holds the blob once.
* **Create-only puts** (records, run claims) are conditional: see
  :mod:`~grange.datastore.s3.commit`.
* **Keys starting with a dot** (``.grange/`` probes) are hidden from
  :meth:`list` and :meth:`children`, as temporary files are on disk.

Every obstore error is turned into a :class:`~grange.exceptions.StoreAccessError`
or :class:`~grange.exceptions.BlobNotFound` naming the bucket and key
(:func:`~grange.datastore.s3.connect.translate`).
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import mmap
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, NoReturn

import obstore
from obstore.exceptions import NotFoundError

from grange.datastore.backend import BlobStore, Chunk, as_bytes_view, check_key, check_prefix
from grange.datastore.s3 import commit
from grange.datastore.s3.cache import BlobCache, data_hash
from grange.datastore.s3.connect import open_store, s3_error_code, translate
from grange.datastore.s3.settings import S3Settings
from grange.datastore.s3.transfer import (
    STREAM_CHUNK,
    BatchError,
    download,
    download_ranges,
    hash_file,
    put_many_async,
    upload,
)
from grange.datastore.s3.url import S3Url
from grange.exceptions import BlobNotFound

if TYPE_CHECKING:
    from obstore.store import S3Store

#: Blobs smaller than this are read into memory; larger ones are mapped from a file.
MMAP_THRESHOLD = 256 * 1024
#: Hashes of the bytes last handed out per key, kept for :meth:`S3BlobStore.sha1`.
SERVED_KEEP = 64


class S3BlobStore(BlobStore):
    """Blobs under ``url`` (bucket and prefix); see the module doc."""

    can_append = False

    def __init__(
        self,
        url: S3Url,
        settings: S3Settings | None = None,
        *,
        cache: BlobCache | None = None,
        conditional_put: str = "auto",
        ranged_get: bool = False,
    ) -> None:
        if conditional_put not in commit.MODES:
            raise ValueError(f"conditional_put must be one of {commit.MODES}")
        self.s3url = url
        self.bucket = url.bucket
        self.settings = settings or S3Settings()
        self.cache = cache
        self.conditional_put = conditional_put
        self.ranged_get = ranged_get  # parallel ranged GETs for big blobs (AWS S3)
        self._served: OrderedDict[str, str | tuple[str, int]] = OrderedDict()
        self._served_lock = threading.Lock()
        self._bucket_seen = False

    @classmethod
    def from_env(cls, url: S3Url, env: Mapping[str, str] | None = None) -> S3BlobStore:
        """A store of ``url`` configured by the environment (``os.environ`` by default)."""
        env = os.environ if env is None else env
        return cls(
            url,
            S3Settings.from_env(env),
            cache=BlobCache.from_env(env),
            conditional_put=commit.mode_from_env(env),
            ranged_get=env.get("GRANGE_S3_RANGED_GET", "").strip().lower() in ("1", "true", "on"),
        )

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (to hand to another process): what was read here stays here."""
        state = dict(self.__dict__)
        state["_served"], state["_served_lock"] = OrderedDict(), None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._served_lock = threading.Lock()

    # -- plumbing -----------------------------------------------------------------

    @property
    def _store(self) -> S3Store:
        return open_store(self.bucket, self.settings)

    def _full(self, key: str) -> str:
        return self.s3url.key(check_key(key))

    def _fail(self, err: BaseException, key: str | None, doing: str) -> NoReturn:
        """Raise ``err`` in the user's terms (a relative ``key`` names it in BlobNotFound)."""
        full = self.s3url.key(key) if key else self.s3url.prefix or None
        out = translate(err, bucket=self.bucket, key=full, doing=doing, settings=self.settings)
        if isinstance(out, BlobNotFound):
            raise BlobNotFound(key or "", self.describe()) from None
        if out is err:
            raise err
        raise out from None

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return dict(obstore.head(self._store, self._full(key)))
        except (NotFoundError, FileNotFoundError):
            self._check_bucket(key)
            return None
        except Exception as err:
            self._fail(err, key, "read")

    def _check_bucket(self, key: str) -> None:
        """A HEAD's 404 has no body: after the first one in this process, a listing
        (one small request, whose error has a body) tells a missing key from a
        missing bucket."""
        if self._bucket_seen:
            return
        try:
            next(iter(obstore.list(self._store, self._full(key), chunk_size=1)), None)
        except Exception as err:
            self._fail(err, key, "read")
        self._bucket_seen = True

    # -- writing ------------------------------------------------------------------

    def put_chunks(self, key: str, chunks: Iterable[Chunk], *, overwrite: bool = False) -> bool:
        full = self._full(key)
        if not overwrite:
            if data_hash(key) is None:
                # A record or a claim: small, written at most once. Chunks that
                # are not a sequence are not consumed if the key exists.
                if not isinstance(chunks, Sequence) and self._head(key) is not None:
                    return False
                data = b"".join(as_bytes_view(c) for c in chunks)
                return self._create_only(key, full, data)
            if self._head(key) is not None:
                return False  # content-addressed: the stored blob holds these bytes
        if overwrite:
            self._forget(key)
        self._upload(key, full, chunks)
        return True

    def _forget(self, key: str) -> None:
        """Drop the cached copy of a content-addressed blob being replaced or deleted
        (a repair of a damaged blob: the cache only ever holds intact ones)."""
        name = data_hash(key)
        if name is not None and self.cache is not None:
            self.cache.discard(self.bucket, name)
        with self._served_lock:
            self._served.pop(key, None)

    def _create_only(self, key: str, full: str, data: bytes) -> bool:
        try:
            conditional = commit.honours_create(
                self._store,
                self.bucket,
                self.s3url.prefix,
                self.settings.endpoint_url,
                self.conditional_put,
            )
            return commit.put_create_only(self._store, full, data, conditional=conditional)
        except Exception as err:
            self._fail(err, key, "write")

    def _upload(self, key: str, full: str, chunks: Iterable[Chunk]) -> None:
        try:
            upload(
                self._store,
                full,
                chunks,
                part_size=self.settings.part_size,
                concurrency=self.settings.max_concurrency,
            )
        except Exception as err:
            self._fail(err, key, "write")

    def put_content(
        self, chunks: Sequence[Chunk], key_of: Callable[[], str], *, size: int
    ) -> tuple[str, bool]:
        """Hash, then HEAD: a blob stored already is not uploaded again."""
        key = key_of()
        if self._head(key) is not None:
            return key, False
        self._upload(key, self._full(key), chunks)
        return key, True

    def put_many(
        self, items: Iterable[tuple[str, Sequence[Chunk]]], *, overwrite: bool = False
    ) -> list[bool]:
        """Small blobs concurrently (at most ``max_concurrency`` requests at once);
        records, claims and blobs bigger than a part go through :meth:`put_chunks`."""
        items = list(items)
        results: list[bool | None] = [None] * len(items)
        queued: dict[str, tuple[int, bytes]] = {}  # key -> (item, bytes), one put per key
        for i, (key, chunks) in enumerate(items):
            views = [as_bytes_view(c) for c in chunks]
            size = sum(v.nbytes for v in views)
            if size >= self.settings.part_size or (not overwrite and data_hash(key) is None):
                results[i] = self.put_chunks(key, views, overwrite=overwrite)
            elif key in queued and not overwrite:
                results[i] = False  # as if after the first: that key exists then
            else:
                if overwrite:
                    self._forget(key)
                queued[key] = (i, b"".join(views))  # with overwrite, the last one wins
                results[i] = True
        batch = [(i, key, data) for key, (i, data) in queued.items()]
        if batch:
            try:
                done = put_many_async(
                    self._store,
                    [(self._full(key), data) for _, key, data in batch],
                    skip_existing=not overwrite,
                    concurrency=self.settings.max_concurrency,
                )
            except BatchError as err:
                self._fail(err.error, batch[err.index][1], "write")
            for (i, _, _), written in zip(batch, done, strict=True):
                results[i] = written
        return [bool(r) for r in results]

    def append_bytes(self, key: str, data: Chunk) -> None:
        """Read, then rewrite the whole object: S3 cannot append. Slow and not atomic;
        logs use :class:`~grange.datastore.logs.LogSink`, which uploads whole logs."""
        try:
            old = self.get_bytes(key)
        except BlobNotFound:
            old = b""
        self._upload(key, self._full(key), (old, data))

    def delete(self, key: str) -> bool:
        if self._head(key) is None:
            return False
        self._forget(key)
        try:
            obstore.delete(self._store, self._full(key))
        except Exception as err:
            self._fail(err, key, "delete")
        return True

    # -- reading ------------------------------------------------------------------

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
            return obstore.get_range(
                self._store, self._full(key), start=start, end=start + length
            ).to_bytes()
        except Exception as err:
            if s3_error_code(err) == "InvalidRange":  # starts at or past the end
                self.size(key)
                return b""
            self._fail(err, key, "read")

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

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int:
        meta = self._head(key)
        if meta is None:
            raise BlobNotFound(key, self.describe())
        return int(meta["size"])

    def list(self, prefix: str = "") -> builtins.list[str]:
        folder = check_prefix(prefix)
        full = self.s3url.key(folder) if folder else self.s3url.prefix
        skip = len(self.s3url.prefix) + 1 if self.s3url.prefix else 0
        keys = []
        try:
            for page in obstore.list(self._store, full or None):
                for meta in page:
                    key = meta["path"][skip:]
                    if not any(part.startswith(".") for part in key.split("/")):
                        keys.append(key)
        except Exception as err:
            self._fail(err, folder, "list")
        return sorted(keys)

    def children(self, prefix: str = "") -> builtins.list[str]:
        folder = check_prefix(prefix)
        full = self.s3url.key(folder) if folder else self.s3url.prefix
        try:
            found = obstore.list_with_delimiter(self._store, full or None)
        except Exception as err:
            self._fail(err, folder, "list")
        names = {p.rsplit("/", 1)[-1] for p in found["common_prefixes"]}
        names.update(meta["path"].rsplit("/", 1)[-1] for meta in found["objects"])
        return sorted(n for n in names if not n.startswith("."))

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"

    def describe(self) -> str:
        return f"S3 datastore at {self.s3url}"
