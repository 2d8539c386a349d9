"""Many small puts at once: one asyncio loop, a bounded number of requests in flight.

A task that saves fifty small artifacts should not wait for fifty round trips
one after the other: the HEAD (is the content stored already?) and the PUT of
each blob run concurrently, at most ``concurrency`` requests at a time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import obstore
from obstore.exceptions import NotFoundError

if TYPE_CHECKING:
    from obstore.store import S3Store


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
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_put_all(store, items, skip_existing, concurrency))
    # Called from inside an event loop (a notebook): run ours in a thread.
    out: list[list[bool]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            out.append(asyncio.run(_put_all(store, items, skip_existing, concurrency)))
        except BaseException as err:  # re-raised in the caller's thread
            errors.append(err)

    thread = threading.Thread(target=run, name="grange-s3-batch")
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
