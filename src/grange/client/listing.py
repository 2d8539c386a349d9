"""Reads for a web page over the client's stores: pages of runs, counts, log slices.

The object model (:class:`~grange.client.Flow`, :class:`~grange.client.Run`...)
reads what a script asks for; a page over 10,000 runs, or a run with a
1,000-way foreach refreshed every second, asks for counts and one page at a
time instead (:mod:`grange.metastore.listing`). Like the object model, these
first index what the datastore holds and the index lacks
(:mod:`grange.client.sync`). Logs are read by byte range, so the tail of a
10 MB log costs what is shown.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grange.client.sync import sync_flow, sync_flows
from grange.datastore import log_key
from grange.exceptions import BlobNotFound
from grange.metastore import listing
from grange.metastore.listing import FlowSummary, RunPage, Span, StepCounts

if TYPE_CHECKING:
    from grange.client.config import Stores
    from grange.client.task import Task

__all__ = [
    "FlowSummary",
    "LogSlice",
    "RunPage",
    "Span",
    "StepCounts",
    "artifact_chunks",
    "flows",
    "log_slice",
    "newest_run_number",
    "run_spans",
    "run_steps",
    "runs_page",
]

CHUNK = 1 << 20


@dataclass(frozen=True)
class LogSlice:
    """Bytes ``start`` to ``start + len(data)`` of a log of ``size`` bytes (so far)."""

    stream: str
    start: int
    data: bytes
    size: int
    source: str  # the pathspec of the task that wrote it (an origin, for a resumed clone)


def flows(stores: Stores, *, tags: Sequence[str] = ()) -> list[FlowSummary]:
    """Every flow with a run carrying all ``tags``, with its run count and newest run."""
    if not stores.exists():
        return []
    sync_flows(stores)
    return listing.flow_summaries(stores.metadata, tags=tags)


def runs_page(
    stores: Stores,
    flow: str,
    *,
    tags: Sequence[str] = (),
    status: str | None = None,
    user: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> RunPage:
    """One page of ``flow``'s runs, newest first (see :func:`grange.metastore.listing.page_runs`)."""
    sync_flow(stores, flow)
    return listing.page_runs(
        stores.metadata, flow, tags=tags, status=status, user=user, limit=limit, offset=offset
    )


def run_steps(stores: Stores, flow: str, run_id: str) -> list[StepCounts]:
    """The tasks of each step of a run, counted by status."""
    return listing.step_counts(stores.metadata, flow, run_id)


def run_spans(stores: Stores, flow: str, run_id: str, *, limit: int) -> tuple[list[Span], int]:
    """The first ``limit`` attempts of a run by start, and how many there are."""
    return listing.spans(stores.metadata, flow, run_id, limit=limit)


def newest_run_number(stores: Stores, flow: str) -> int:
    """The number of ``flow``'s newest run (0 without any)."""
    return listing.newest_run_number(stores.metadata, flow)


def log_slice(task: Task, stream: str, *, start: int | None, length: int) -> LogSlice:
    """Up to ``length`` bytes of the task's ``stream`` log from byte ``start``
    (``None``: the last ``length`` bytes). A task that ``resume`` reused shows the
    log of the task it comes from, as :meth:`Task.log_bytes` does."""
    if stream not in ("stdout", "stderr"):
        raise ValueError(f"a log stream is 'stdout' or 'stderr', not {stream!r}")
    source = task._ran_as()
    flow, run_id, step, task_id = source.path_components
    key = log_key(flow, run_id, step, task_id, source.current_attempt, stream)
    blobs = task._stores.blobs
    try:
        size = blobs.size(key)
    except BlobNotFound:
        return LogSlice(stream, 0, b"", 0, source.pathspec)
    begin = max(0, size - length) if start is None else min(max(0, start), size)
    count = min(length, size - begin)
    data = blobs.get_range(key, begin, count) if count > 0 else b""
    return LogSlice(stream, begin, data, size, source.pathspec)


def artifact_chunks(stores: Stores, flow: str, key: str) -> tuple[int, Iterator[bytes]]:
    """The stored (serialized) bytes of the artifact blob ``key`` of ``flow``, as
    chunks, and their size: what a download serves (nothing is unpickled)."""
    cas = stores.cas(flow)
    path = cas.blob_key(key)
    blobs = stores.blobs
    size = blobs.size(path)

    def chunks() -> Iterator[bytes]:
        for begin in range(0, size, CHUNK):
            yield blobs.get_range(path, begin, min(CHUNK, size - begin))

    return size, chunks()
