"""The requests behind ``grange.S3``: obstore's async calls, many at a time.

A batch (``get_many``, ``put_many``, ``info_many``, a listing) runs on one
event loop with at most ``concurrency`` requests in flight. Downloads stream
into local files chunk by chunk and uploads stream from files (multipart above
the part size), so a big object is never held in memory whole, let alone twice.
Every obstore error becomes an :class:`~grange.datatools.s3.errors.S3Error`
naming the URL and the fix.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from grange.datastore.s3.connect import open_store, s3_error_code, translate
from grange.datastore.s3.settings import S3Settings
from grange.datatools.s3.errors import (
    S3AccessDenied,
    S3Error,
    S3InvalidRange,
    S3NotFound,
)
from grange.datatools.s3.locations import Location
from grange.datatools.s3.objects import USER_ATTRIBUTES
from grange.exceptions import BlobNotFound, GrangeError, StoreAccessError

T = TypeVar("T")
R = TypeVar("R")

STREAM_CHUNK = 8 * 1024 * 1024  # bytes handed over per read of a download
PART_CHUNK = 1024 * 1024  # the same, for a part of an object read in parallel parts
_BIG_WRITE = 1024 * 1024  # chunks at least this big are written from a thread
_ACTIONS = {"read": "s3:GetObject", "write": "s3:PutObject", "list": "s3:ListBucket"}


@dataclass(frozen=True)
class Fetched:
    """What a download or a HEAD learnt about an object."""

    size: int  # of the whole object
    last_modified: float
    attributes: Mapping[str, str]
    start: int = 0  # the bytes downloaded, if any: [start, end)
    end: int = 0


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end from synchronous code (in a thread of its own when
    this thread already runs an event loop, as in a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1, thread_name_prefix="grange-s3") as pool:
        return pool.submit(asyncio.run, coro).result()


async def bounded(items: Sequence[T], work: Callable[[T], Awaitable[R]], limit: int) -> list[R]:
    """``work(item)`` for every item, at most ``limit`` at once, results in order.

    After a failure no new item starts; the error of the first failed item
    (in the order given) is raised once the ones in flight have finished.
    """
    results: list[Any] = [None] * len(items)
    errors: dict[int, BaseException] = {}
    queue = iter(enumerate(items))

    async def worker() -> None:
        for index, item in queue:
            if errors:
                return
            try:
                results[index] = await work(item)
            except Exception as err:
                errors[index] = err
                return

    await asyncio.gather(*(worker() for _ in range(max(1, min(limit, len(items))))))
    if errors:
        raise errors[min(errors)]
    return results


class Transfers:
    """Requests to S3 with the given settings, ``concurrency`` of them at a time."""

    def __init__(self, settings: S3Settings, concurrency: int) -> None:
        self.settings = settings
        self.concurrency = concurrency
        self._gates: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def store(self, bucket: str) -> Any:
        return open_store(bucket, self.settings)

    async def download(
        self, loc: Location, rng: Any, path: str, *, missing_ok: bool
    ) -> Fetched | None:
        """Stream ``loc`` (or the range ``rng`` of it) into ``path``; None if missing.

        A whole object of two parts or more is read in parts, in parallel: the
        first response only tells its size and ETag, and every part must match
        that ETag, so an object replaced meanwhile is never read half old, half new.
        """
        import obstore

        options = {"range": rng} if rng is not None else None
        try:
            resp = await obstore.get_async(self.store(loc.bucket), loc.key, options=options)  # type: ignore[arg-type]
            start, end = resp.range
            meta, attributes = resp.meta, dict(resp.attributes)
            etag = meta.get("e_tag")
            if rng is None and etag and end - start >= 2 * self.settings.part_size:
                del resp  # its body is read in parts instead
                await self._download_parts(loc, path, end - start, etag)
            else:
                await _stream_into(resp, path, loc, end - start)
        except Exception as err:
            failure = self.error(err, loc, "read")
            if missing_ok and isinstance(failure, S3NotFound):
                return None
            raise failure from None
        return Fetched(meta["size"], meta["last_modified"].timestamp(), attributes, start, end)

    async def _download_parts(self, loc: Location, path: str, size: int, etag: str) -> None:
        """Read ``size`` bytes of ``loc`` into ``path`` in parts of the part size.

        Part requests of a whole batch share one gate of ``concurrency``
        requests; each hands over at most :data:`PART_CHUNK` bytes at a time.
        """
        import obstore

        store, part, gate = self.store(loc.bucket), self.settings.part_size, self._gate()
        with open(path, "wb") as out:
            out.truncate(size)
            fd = out.fileno()

            async def one(bounds: tuple[int, int]) -> None:
                first, stop = bounds
                async with gate:
                    resp = await obstore.get_async(
                        store, loc.key, options={"range": bounds, "if_match": etag}
                    )
                    offset = first
                    async for chunk in resp.stream(min_chunk_size=PART_CHUNK):
                        await asyncio.to_thread(_pwrite_all, fd, chunk, offset)
                        offset += len(chunk)
                if offset != stop:
                    raise _short(loc, offset - first, stop - first)

            parts = [(a, min(a + part, size)) for a in range(0, size, part)]
            await bounded(parts, one, self.concurrency)

    def _gate(self) -> asyncio.Semaphore:
        """The semaphore bounding part requests on the running event loop."""
        loop = asyncio.get_running_loop()
        if self._gates is None or self._gates[0] is not loop:
            self._gates = (loop, asyncio.Semaphore(self.concurrency))
        return self._gates[1]

    async def head(self, loc: Location, *, missing_ok: bool) -> Fetched | None:
        """Size, time, content type and metadata of ``loc``, without its bytes."""
        import obstore

        try:
            resp = await obstore.get_async(self.store(loc.bucket), loc.key, options={"head": True})
        except Exception as err:
            failure = self.error(err, loc, "read")
            if missing_ok and isinstance(failure, S3NotFound):
                return None
            raise failure from None
        meta = resp.meta
        return Fetched(meta["size"], meta["last_modified"].timestamp(), dict(resp.attributes))

    async def upload(
        self,
        loc: Location,
        source: bytes | memoryview | Path | Any,
        *,
        content_type: str | None,
        metadata: Mapping[str, object] | None,
        overwrite: bool,
    ) -> bool:
        """Put ``source`` (bytes, a local file's path, or a readable file) at ``loc``.

        With ``overwrite=False`` nothing is written over an existing object
        (an atomic conditional put); returns whether the object was written.
        """
        import obstore
        from obstore.exceptions import AlreadyExistsError, NotSupportedError

        attributes: dict[str, str] = {}
        if content_type:
            attributes["Content-Type"] = content_type
        if metadata:
            attributes[USER_ATTRIBUTES] = json.dumps(dict(metadata), sort_keys=True)
        store = self.store(loc.bucket)

        async def put(mode: str | None) -> None:
            if hasattr(source, "seek"):
                source.seek(0)
            await obstore.put_async(
                store,
                loc.key,
                source,
                attributes=attributes or None,
                mode=mode,  # type: ignore[arg-type]
                chunk_size=self.settings.part_size,
                max_concurrency=self.concurrency,
            )

        try:
            if overwrite:
                await put(None)
                return True
            try:
                await put("create")
                return True
            except AlreadyExistsError:
                return False
            except NotSupportedError:  # a store without conditional puts
                if await self.head(loc, missing_ok=True) is not None:
                    return False
                await put(None)
                return True
        except Exception as err:
            raise self.error(err, loc, "write") from None

    async def listing(self, loc: Location, *, recursive: bool) -> list[tuple[str, int | None]]:
        """``(key, size)`` below ``loc``; folders (size None) only when not recursive."""
        import obstore

        store = self.store(loc.bucket)
        prefix = loc.key or None
        try:
            if not recursive:
                found = await obstore.list_with_delimiter_async(store, prefix)
                folders: list[tuple[str, int | None]] = [
                    (p + "/", None) for p in found["common_prefixes"]
                ]
                objects = [(o["path"], int(o["size"])) for o in found["objects"]]
                # The folder's own marker ("prefix/", read back as "prefix") is no child.
                objects = [(p, s) for p, s in objects if p != loc.key]
                return sorted(objects + folders)
            out: list[tuple[str, int]] = []
            async for batch in obstore.list(store, prefix, chunk_size=1000):
                out.extend((o["path"], int(o["size"])) for o in batch)
        except Exception as err:
            raise self.error(err, loc, "list") from None
        return await self._without_folder_markers(loc, out)

    async def _without_folder_markers(
        self, loc: Location, found: list[tuple[str, int]]
    ) -> list[tuple[str, int | None]]:
        """``found`` without folder markers: the empty ``dir/`` objects that consoles
        create, which obstore reads back as ``dir``. An empty entry that a HEAD of
        that name does not find was such a marker; one that it finds is a real
        (empty) object and is kept, once."""
        empty = sorted({p for p, size in found if size == 0 and p != loc.key})
        heads = await bounded(
            [Location(loc.bucket, p) for p in empty],
            lambda one: self.head(one, missing_ok=True),
            self.concurrency,
        )
        real = {p for p, meta in zip(empty, heads, strict=True) if meta is not None}
        out: list[tuple[str, int | None]] = []
        for path, size in found:
            if size == 0:
                if path not in real:
                    continue
                real.discard(path)  # a real object and a marker of the same name: once
            out.append((path, size))
        return out

    def error(self, err: BaseException, loc: Location, doing: str) -> Exception:
        """``err`` met while ``doing`` ``loc``, as an :class:`S3Error` in the user's terms."""
        if isinstance(err, GrangeError):
            return err
        url = loc.url
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            return S3Error(
                f"cannot download {url}: no space left on the local disk",
                reason="disk-full",
                fix="free some space, or pass S3(tmproot=...) a folder on a bigger disk",
            )
        if s3_error_code(err) == "InvalidRange" or " 416 " in str(err):
            return S3InvalidRange(
                f"cannot read {url}: the range asked for is outside the object",
                fix="ask for an offset below the object's size (see S3.info(key).size)",
            )
        if type(err).__name__ == "PreconditionError":
            return S3Error(
                f"cannot read {url}: it was replaced while it was being read",
                reason="other",
                fix="read it again once its writer has finished",
            )
        if type(err).__name__ == "InvalidPathError":
            return S3Error(
                f"cannot {doing} {url}: it holds a key grange.S3 cannot address "
                f"({str(err).splitlines()[0]})",
                reason="invalid-url",
                fix="keys with empty parts ('a//b') must be read with another tool (aws s3)",
            )
        out = translate(
            err, bucket=loc.bucket, key=loc.key or None, doing=doing, settings=self.settings
        )
        if isinstance(out, BlobNotFound):
            return S3NotFound(
                f"no object at {url}",
                fix="check the key (S3.list_paths shows what is there), or pass "
                "return_missing=True to get it back with .exists == False",
            )
        if isinstance(out, StoreAccessError):
            if out.reason == "denied":
                action = _ACTIONS.get(doing, "s3:GetObject")
                return S3AccessDenied(
                    f"cannot {doing} {url}: access denied",
                    fix=f"grant your AWS identity {action} on {url} "
                    "('aws sts get-caller-identity' shows who you are)",
                )
            return S3Error(out.message, reason=out.reason, fix=out.fix)
        return out


async def _stream_into(resp: Any, path: str, loc: Location, expected: int) -> None:
    """Write the body of ``resp`` into ``path``, checking that all of it came."""
    written = 0
    with open(path, "wb") as out:
        async for chunk in resp.stream(min_chunk_size=STREAM_CHUNK):
            if len(chunk) >= _BIG_WRITE:
                await asyncio.to_thread(out.write, chunk)
            else:
                out.write(chunk)
            written += len(chunk)
    if written != expected:
        raise _short(loc, written, expected)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done


def _short(loc: Location, got: int, expected: int) -> S3Error:
    return S3Error(
        f"cannot read {loc.url}: the store sent {got} bytes of {expected}",
        reason="other",
        fix="try again; if it persists, check the store (the object may be changing)",
    )


def local_file(path: str, key: object) -> Path:
    """``path`` as a local file to upload; S3NotFound if there is none."""
    if not os.path.isfile(path):
        raise S3NotFound(
            f"no local file {path!r} to upload to {key!r}",
            fix="check the path given to put_files",
        )
    return Path(path)
