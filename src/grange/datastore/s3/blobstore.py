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
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import obstore
from obstore.exceptions import NotFoundError

from grange.datastore.backend import BlobStore, Chunk, as_bytes_view, check_key, check_prefix
from grange.datastore.s3 import commit
from grange.datastore.s3.cache import BlobCache, data_hash
from grange.datastore.s3.connect import open_store, translate
from grange.datastore.s3.reads import Reads
from grange.datastore.s3.settings import S3Settings
from grange.datastore.s3.transfer import BatchError, put_many_async, upload
from grange.datastore.s3.url import S3Url
from grange.exceptions import BlobNotFound

if TYPE_CHECKING:
    from obstore.store import S3Store


class S3BlobStore(Reads, BlobStore):
    """Blobs under ``url`` (bucket and prefix); see the module doc (and
    :class:`~grange.datastore.s3.reads.Reads` for reading)."""

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
    def from_env(
        cls,
        url: S3Url,
        env: Mapping[str, str] | None = None,
        *,
        overrides: Mapping[str, object] | None = None,
    ) -> S3BlobStore:
        """A store of ``url`` configured by the environment (``os.environ`` by default),
        then by ``overrides`` (a profile's ``[s3]`` table) where the environment is silent."""
        env = os.environ if env is None else env
        return cls(
            url,
            S3Settings.from_env(env, overrides),
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

    def drop_local_copy(self, key: str) -> bool:
        """Remove the cached file of a content-addressed blob (found damaged by a reader)."""
        if data_hash(key) is None or self.cache is None:
            return False
        self._forget(key)
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
