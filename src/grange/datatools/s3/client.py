"""``S3``: Metaflow's S3 client interface over grange's parallel transfers.

    with S3(s3root="s3://bucket/prefix") as s3:
        s3.put("data.csv", text)
        obj = s3.get("data.csv")        # obj.path, obj.blob, obj.text ...

Downloads go to a temporary folder (created on first download, under
``tmproot``) that ``close()`` or the end of the ``with`` block removes.
Every URL is checked against the active profile's policy before any request.
"""

from __future__ import annotations

import errno
import io
import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from grange.datastore.s3.settings import S3Settings
from grange.datatools.s3 import locations
from grange.datatools.s3.errors import S3Error, S3InvalidObject, S3URLError
from grange.datatools.s3.locations import (
    DATASTORE_ENV,
    RUN_FOLDER,
    Location,
    byte_range,
    key_url,
    split_url,
)
from grange.datatools.s3.objects import (
    PutValue,
    RangeInfo,
    S3GetObject,
    S3Object,
    S3PutObject,
)
from grange.datatools.s3.transfer import Fetched, Transfers, bounded, local_file, run_sync

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _policy_checker() -> Callable[..., None] | None:
    """The active profile's check of S3 URLs (``check_s3_access(url, write=...)``)."""
    from grange.config import check_s3_access

    return check_s3_access


def _check_not_the_datastore(url: str) -> None:
    """Refuse writing into an S3 datastore's own files (records, claims, blobs: written
    once, by grange); a run's ``S3(run=...)`` folder, ``data-s3/``, is the exception."""
    root = os.environ.get(DATASTORE_ENV, "").rstrip("/")
    if not root.startswith("s3://") or not (url == root or url.startswith(root + "/")):
        return
    if url.startswith(f"{root}/{RUN_FOLDER}/"):
        return
    raise S3URLError(
        f"{url} is inside the datastore {root}, whose files grange writes once: "
        "grange.S3 may not write there",
        fix="write under another prefix, or in the run's own folder with S3(run=self)",
    )


class S3:
    """Fast, parallel access to S3 (or an S3-compatible store), as Metaflow's ``S3``.

    ``S3(s3root="s3://bucket/prefix")`` or ``S3(bucket=..., prefix=...)`` take
    keys relative to that root; ``S3(run=self)`` in a step (or ``run=Run(...)``)
    uses a folder of the run in its S3 datastore; ``S3()`` takes whole ``s3://``
    URLs. ``concurrency`` bounds the requests in flight (default
    ``GRANGE_S3_MAX_CONCURRENCY``, 32); ``tmproot`` is where downloads go
    (default: the system's temporary folder).
    """

    def __init__(
        self,
        tmproot: str | None = None,
        bucket: str | None = None,
        prefix: str | None = None,
        run: object = None,
        s3root: str | None = None,
        encryption: str | None = None,
        *,
        concurrency: int | None = None,
        role: str | None = None,
        session_vars: object = None,
        client_params: object = None,
    ) -> None:
        for name, given in (
            ("role", role),
            ("session_vars", session_vars),
            ("client_params", client_params),
        ):
            if given is not None:
                raise S3Error(
                    f"S3({name}=...) is not supported: grange.S3 uses the AWS credentials "
                    "and S3 settings of the environment (or the profile)",
                    reason="other",
                    fix=f"drop {name}=; set AWS_PROFILE / AWS_* credentials, or the "
                    "GRANGE_S3_* settings (docs/s3-data.md)",
                )
        if encryption is not None:
            raise S3Error(
                f"S3(encryption={encryption!r}) is not supported: grange.S3 does not set "
                "server-side encryption per object",
                reason="other",
                fix="drop encryption=; objects get the bucket's default encryption",
            )
        if concurrency is not None and (not isinstance(concurrency, int) or concurrency < 1):
            raise S3Error(
                f"S3(concurrency={concurrency!r}) must be a whole number >= 1",
                fix="e.g. S3(concurrency=64)",
            )
        self._root = locations.root_from_args(s3root=s3root, bucket=bucket, prefix=prefix, run=run)
        from grange.config import active

        settings = S3Settings.from_env(overrides=active().s3_overrides())  # env, then profile
        self._transfers = Transfers(settings, concurrency or settings.max_concurrency)
        self._tmproot = tmproot
        self._tmpdir: str | None = None
        self._names = itertools.count()
        self._policy = _policy_checker()  # read once: a batch checks every URL

    # -- scope -----------------------------------------------------------------

    def __enter__(self) -> S3:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove every file downloaded through this object."""
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    @property
    def s3root(self) -> str | None:
        """The root keys are relative to (None: whole URLs only)."""
        return self._root

    @property
    def concurrency(self) -> int:
        return self._transfers.concurrency

    def _local_path(self, url: str) -> str:
        if self._tmpdir is None:
            try:
                self._tmpdir = tempfile.mkdtemp(prefix="grange.s3.", dir=self._tmproot)
            except OSError as err:
                where = self._tmproot or tempfile.gettempdir()
                raise S3Error(
                    f"cannot create a folder for downloads in {where}: {err.strerror}",
                    reason="disk-full" if err.errno == errno.ENOSPC else "other",
                    fix="pass S3(tmproot=...) an existing folder you may write to",
                ) from None
        leaf = _SAFE.sub("_", url.rsplit("/", 1)[-1])[-80:]
        return os.path.join(self._tmpdir, f"{next(self._names):06d}-{leaf}")

    def _location(self, key: object, *, write: bool = False, folder: bool = False) -> Location:
        url = key_url(self._root, key)
        loc = split_url(url, folder=folder)
        if write:
            _check_not_the_datastore(loc.url)
        if self._policy is not None:  # before any request
            self._policy(loc.url + ("/" if folder and loc.key else ""), write=write)
        return loc

    # -- listing ---------------------------------------------------------------

    def list_paths(self, keys: Iterable[str] | None = None) -> list[S3Object]:
        """The objects and folders right below each key (folders have ``exists == False``)."""
        return self._list(keys, recursive=False)

    def list_recursive(self, keys: Iterable[str] | None = None) -> list[S3Object]:
        """Every object below each key, at any depth."""
        return self._list(keys, recursive=True)

    def _list(self, keys: Iterable[str] | None, *, recursive: bool) -> list[S3Object]:
        method = "list_paths" if not recursive else "list_recursive"
        given = [None] if keys is None else _many(keys, method)
        locs = [self._location(k, folder=True) for k in given]
        listings = run_sync(
            bounded(locs, lambda loc: self._transfers.listing(loc, recursive=recursive),
                    self.concurrency)
        )  # fmt: skip
        out = []
        for loc, found in zip(locs, listings, strict=True):
            for key, size in found:
                out.append(S3Object(loc.url, f"s3://{loc.bucket}/{key}", size=size))
        return out

    # -- info ------------------------------------------------------------------

    def info(self, key: str | None = None, return_missing: bool = False) -> S3Object:
        """Size, time, content type and metadata of one object (one HEAD request)."""
        return self.info_many([key], return_missing=return_missing)[0]  # type: ignore[list-item]

    def info_many(self, keys: Iterable[str], return_missing: bool = False) -> list[S3Object]:
        """:meth:`info` of many objects, in parallel."""
        locs = [self._location(k) for k in _many(keys, "info_many")]
        found = run_sync(
            bounded(locs, lambda loc: self._transfers.head(loc, missing_ok=return_missing),
                    self.concurrency)
        )  # fmt: skip
        out = []
        for loc, meta in zip(locs, found, strict=True):
            if meta is None:
                out.append(S3Object(self._root, loc.url))
            else:
                out.append(self._object(loc, meta, None, info=True, ranged=False))
        return out

    # -- get -------------------------------------------------------------------

    def get(
        self,
        key: str | S3GetObject | None = None,
        return_missing: bool = False,
        return_info: bool = True,
    ) -> S3Object:
        """Download one object (or a byte range of it, with an :class:`S3GetObject`)."""
        return self.get_many([key], return_missing, return_info)[0]  # type: ignore[list-item]

    def get_many(
        self,
        keys: Iterable[str | S3GetObject],
        return_missing: bool = False,
        return_info: bool = True,
    ) -> list[S3Object]:
        """Download many objects in parallel; the results are in the order of ``keys``."""
        asked = [(self._location(k), byte_range(k)) for k in _many(keys, "get_many")]
        return self._download(asked, return_missing, return_info, prefixes=None)

    def get_recursive(self, keys: Iterable[str], return_info: bool = False) -> list[S3Object]:
        """Download every object below each key."""
        listed = self.list_recursive(_many(keys, "get_recursive"))
        asked = [(split_url(o.url), None) for o in listed]
        prefixes = [o.prefix for o in listed]
        return self._download(asked, False, return_info, prefixes=prefixes)

    def get_all(self, return_info: bool = False) -> list[S3Object]:
        """Download every object below the root."""
        if self._root is None:
            raise S3URLError(
                "get_all() needs a root, and this S3 has none",
                fix="create it as S3(s3root='s3://bucket/prefix') or S3(run=self)",
            )
        return self.get_recursive([None], return_info)  # type: ignore[list-item]

    def _download(
        self,
        asked: Sequence[tuple[Location, Any]],
        missing_ok: bool,
        info: bool,
        prefixes: Sequence[str | None] | None,
    ) -> list[S3Object]:
        paths = [self._local_path(loc.url) for loc, _ in asked]
        jobs = list(zip(asked, paths, strict=True))

        async def one(job: tuple[tuple[Location, Any], str]) -> Fetched | None:
            (loc, rng), path = job
            return await self._transfers.download(loc, rng, path, missing_ok=missing_ok)

        fetched = run_sync(bounded(jobs, one, self.concurrency))
        out = []
        for i, (((loc, rng), path), meta) in enumerate(zip(jobs, fetched, strict=True)):
            prefix = prefixes[i] if prefixes is not None else self._root
            if meta is None:
                out.append(S3Object(prefix, loc.url))
                continue
            out.append(
                self._object(loc, meta, path, info=info, ranged=rng is not None, prefix=prefix)
            )
        return out

    def _object(
        self,
        loc: Location,
        meta: Fetched,
        path: str | None,
        *,
        info: bool,
        ranged: bool,
        prefix: str | None = None,
    ) -> S3Object:
        size = meta.end - meta.start if path is not None else meta.size
        prefix = self._root if prefix is None else prefix
        if not info:
            return S3Object(prefix, loc.url, path, size)
        range_info = None
        if path is not None:
            range_info = RangeInfo(meta.size, meta.start, meta.end - meta.start)
        return S3Object(
            prefix,
            loc.url,
            path,
            size,
            content_type=meta.attributes.get("Content-Type"),
            metadata=meta.attributes,
            range_info=range_info,
            last_modified=meta.last_modified,
        )

    # -- put -------------------------------------------------------------------

    def put(
        self,
        key: str | S3PutObject,
        obj: PutValue,
        overwrite: bool = True,
        content_type: str | None = None,
        metadata: Mapping[str, object] | None = None,
    ) -> str:
        """Upload ``obj`` (text, bytes or a readable, seekable binary file); returns its URL.

        With ``overwrite=False`` an existing object is left as it is.
        """
        item = S3PutObject(
            getattr(key, "key", key),  # type: ignore[arg-type]
            value=obj,
            content_type=content_type,
            metadata=metadata,
        )
        self._put([item], overwrite, files=False)
        return key_url(self._root, item.key)

    def put_many(
        self, key_objs: Iterable[tuple[str, PutValue] | S3PutObject], overwrite: bool = True
    ) -> list[tuple[str, str]]:
        """Upload many values in parallel; returns ``(key, url)`` of those written."""
        items = [_put_item(k, files=False) for k in _many(key_objs, "put_many")]
        return self._put(items, overwrite, files=False)

    def put_files(
        self, key_paths: Iterable[tuple[str, str] | S3PutObject], overwrite: bool = True
    ) -> list[tuple[str, str]]:
        """Upload many local files in parallel (multipart when big); returns
        ``(key, url)`` of those written."""
        items = [_put_item(k, files=True) for k in _many(key_paths, "put_files")]
        return self._put(items, overwrite, files=True)

    def _put(
        self, items: Sequence[S3PutObject], overwrite: bool, *, files: bool
    ) -> list[tuple[str, str]]:
        jobs = []
        for item in items:
            if item.encryption is not None:
                raise S3Error(
                    f"{item.key!r}: encryption= is not supported by grange.S3",
                    fix="drop encryption=; objects get the bucket's default encryption",
                )
            source = local_file(item.path or "", item.key) if files else _payload(item)
            if item.metadata is not None and not isinstance(item.metadata, Mapping):
                raise S3InvalidObject(
                    f"{item.key!r}: metadata must be a dict, not {type(item.metadata).__name__}",
                    fix="pass metadata={'name': 'value', ...}",
                )
            jobs.append((item, self._location(item.key, write=True), source))

        async def one(job: tuple[S3PutObject, Location, Any]) -> bool:
            item, loc, source = job
            return await self._transfers.upload(
                loc, source, content_type=item.content_type, metadata=item.metadata,
                overwrite=overwrite,
            )  # fmt: skip

        written = run_sync(bounded(jobs, one, self.concurrency))
        return [
            (item.key, loc.url) for (item, loc, _), done in zip(jobs, written, strict=True) if done
        ]


def _many(keys: Any, method: str) -> list[Any]:
    """``keys`` as a list; a single string is refused (it would be read letter by letter)."""
    if isinstance(keys, (str, bytes, S3GetObject, S3PutObject)):
        raise S3URLError(
            f"{method}() takes a list of keys, not the single key {keys!r:.80}",
            fix=f"pass a list: {method}([{keys!r:.40}]), or call the one-key method",
        )
    return list(keys)


def _put_item(entry: object, *, files: bool) -> S3PutObject:
    if isinstance(entry, S3PutObject):
        if files and not entry.path:
            raise S3InvalidObject(
                f"{entry.key!r}: put_files needs S3PutObject(key, path=...)",
                fix="give the local file as path=, or use put_many for values",
            )
        return entry
    if isinstance(entry, tuple) and len(entry) == 2:
        key, second = entry
        return S3PutObject(key, path=second) if files else S3PutObject(key, value=second)
    what = "(key, path)" if files else "(key, value)"
    raise S3InvalidObject(
        f"expected {what} pairs or S3PutObject, not {entry!r:.80}",
        fix=f"pass a list of {what} tuples or S3PutObject(...)",
    )


def _payload(item: S3PutObject) -> Any:
    """The bytes (or the open file) that ``item`` uploads."""
    value = item.value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return value
    if isinstance(value, (io.RawIOBase, io.BufferedIOBase)) or (
        hasattr(value, "read") and hasattr(value, "seek")
    ):
        if not (value.readable() and value.seekable()):  # type: ignore[union-attr]
            raise S3InvalidObject(
                f"the file given for {item.key!r} is not readable and seekable",
                fix="open it with open(path, 'rb'), or pass its bytes",
            )
        return value
    raise S3InvalidObject(
        f"the value given for {item.key!r} is a {type(value).__name__}, not text, "
        "bytes or a binary file",
        fix="serialize it first (e.g. json.dumps(value) or pickle.dumps(value))",
    )


__all__ = ["S3"]
