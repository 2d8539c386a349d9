"""Moving bytes to and from S3: streamed uploads, streamed downloads, batches of puts.

* :func:`upload`: one PUT for a blob smaller than a part, else a parallel
  multipart upload fed from the serializer's chunks as they come (obstore keeps
  references to the buffers: nothing is joined or copied beyond one part);
* :func:`download`: one streamed GET into a file, hashed on the way;
  :func:`download_ranges`: parallel ranged GETs into a file (for AWS S3, where
  one connection is the bottleneck; ``GRANGE_S3_RANGED_GET=1``);
* :func:`put_many_async`: many small puts at once. A task that saves fifty
  small artifacts should not wait for fifty round trips one after the other:
  the HEAD (is the content stored already?) and the PUT of each blob run
  concurrently, at most ``concurrency`` requests at a time.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, TypeVar

import obstore
from obstore.exceptions import NotFoundError

from grange.datastore.backend import Chunk, as_bytes_view

if TYPE_CHECKING:
    from obstore import GetResult
    from obstore.store import S3Store

#: Downloads are streamed in pieces of at least this size.
STREAM_CHUNK = 8 * 1024 * 1024
#: Parts of one ranged download in flight at once (each in memory until written).
RANGED_MAX = 8

T = TypeVar("T")


def upload(
    store: S3Store, key: str, chunks: Iterable[Chunk], *, part_size: int, concurrency: int
) -> None:
    """Store the concatenated ``chunks`` under ``key``: see the module doc. If the
    chunks raise, obstore aborts the multipart upload and the error propagates."""
    iterator = iter(chunks)
    head: list[memoryview] = []
    size = 0
    for chunk in iterator:
        view = as_bytes_view(chunk)
        head.append(view)
        size += view.nbytes
        if size >= part_size:
            break
    if size < part_size:
        data = head[0] if len(head) == 1 else b"".join(head)
        obstore.put(store, key, data, use_multipart=False)
        return
    rest = (as_bytes_view(c) for c in iterator)
    stream: Iterator[memoryview] = (v for v in itertools.chain(head, rest) if v.nbytes)
    obstore.put(store, key, stream, chunk_size=part_size, max_concurrency=concurrency)


def download(result: GetResult, f: IO[bytes]) -> str:
    """Write the body of ``result`` to ``f`` as it arrives; return its hex sha1."""
    digest = hashlib.sha1(usedforsecurity=False)
    for piece in result.stream(min_chunk_size=STREAM_CHUNK):
        digest.update(piece)
        view = memoryview(piece)
        while view:
            n = f.write(view)
            view = view[n or 0 :]
    return digest.hexdigest()


def hash_file(path: str, inode: int) -> str | None:
    """The hex sha1 of the file ``path`` if it is still the file ``inode``, else None."""
    try:
        with open(path, "rb", buffering=0) as f:
            if os.fstat(f.fileno()).st_ino != inode:
                return None
            return _hash_fd(f.fileno())
    except FileNotFoundError:
        return None


def _hash_fd(fd: int) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    buffer = bytearray(1024 * 1024)
    view = memoryview(buffer)
    offset = 0
    while n := os.preadv(fd, [buffer], offset):
        digest.update(view[:n])
        offset += n
    return digest.hexdigest()


class BatchError(Exception):
    """The first error of a batch, and the index of the item that met it."""

    def __init__(self, index: int, error: BaseException) -> None:
        super().__init__(str(error))
        self.index = index
        self.error = error


def put_many_async(
    store: S3Store,
    items: Sequence[tuple[str, bytes]],
    *,
    skip_existing: bool,
    concurrency: int,
) -> list[bool]:
    """Put each ``(key, data)``; with ``skip_existing``, a key that exists is left
    alone (``False``). Raises :class:`BatchError` for the first failed item."""
    return _run(lambda: _put_all(store, items, skip_existing, concurrency))


def download_ranges(
    store: S3Store, key: str, size: int, f: IO[bytes], *, part_size: int, concurrency: int
) -> str:
    """Download ``key`` (``size`` bytes) into ``f`` with parallel ranged GETs, at most
    :data:`RANGED_MAX` parts (of ``part_size``) in flight; return its hex sha1.

    Faster on AWS S3, where one connection reads at ~100 MB/s; slower on servers
    that copy the whole object for each range (moto). Off unless asked for.
    """
    fd = f.fileno()

    async def fetch_all() -> None:
        gate = asyncio.Semaphore(max(1, min(concurrency, RANGED_MAX)))

        async def fetch(start: int) -> None:
            async with gate:
                end = min(start + part_size, size)
                data = await obstore.get_range_async(store, key, start=start, end=end)
                view, offset = memoryview(data), start
                while view:
                    n = os.pwrite(fd, view, offset)
                    view, offset = view[n:], offset + n

        await asyncio.gather(*(fetch(start) for start in range(0, size, part_size)))

    _run(fetch_all)
    return _hash_fd(fd)


def _run(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to its end, from plain code or from inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    # Called from inside an event loop (a notebook): run ours in a thread.
    out: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            out.append(asyncio.run(make()))
        except BaseException as err:  # re-raised in the caller's thread
            errors.append(err)

    thread = threading.Thread(target=run, name="grange-s3-async")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return out[0]


async def _put_all(
    store: S3Store, items: Sequence[tuple[str, bytes]], skip_existing: bool, concurrency: int
) -> list[bool]:
    gate = asyncio.Semaphore(concurrency)

    async def put_one(index: int, key: str, data: bytes) -> bool:
        async with gate:
            try:
                if skip_existing:
                    try:
                        await obstore.head_async(store, key)
                        return False
                    except (NotFoundError, FileNotFoundError):
                        pass
                await obstore.put_async(store, key, data, use_multipart=False)
                return True
            except Exception as err:
                raise BatchError(index, err) from err

    tasks = [asyncio.ensure_future(put_one(i, k, d)) for i, (k, d) in enumerate(items)]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
