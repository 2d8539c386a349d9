"""A run's own files in the datastore: its claim, its end, its user tags.

The datastore, not the metadata index, is the truth (see DESIGN.md): the index
can be lost, replaced by another (``--metadata``) or restored from an old
copy, and must never make two runs share a folder. So a run owns its folder
``<flow>/<run>/`` by *claiming* it, one atomic create-if-absent put of::

    <flow>/<run>/run.json          who started it, when, its tags and parameters

A claim that fails means the id is taken in this datastore, whatever the
index says: the runtime then brings the index up to date from the records and
takes the next id. A folder that holds files but no ``run.json`` was made by a
grange that did not claim runs; it counts as taken too.

Two more files let a rebuilt index tell what the lost one knew::

    <flow>/<run>/run-final.json    how the run ended (status, time), once
    <flow>/<run>/run-tags.json     the user tags after the last change

None of these names can be a step's folder: step names are identifiers.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from grange.datastore.backend import BlobStore, check_key
from grange.datastore.errors import write_error
from grange.exceptions import BlobNotFound, DatastoreError

CLAIM = "run.json"
FINAL = "run-final.json"
TAGS = "run-tags.json"
RUN_FILES = frozenset({CLAIM, FINAL, TAGS})
CLAIM_FORMAT = 1


@dataclass(frozen=True)
class RunClaim:
    """What a run records about itself when it starts (``run.json``)."""

    flow: str
    run_id: str
    created_at: float
    user: str
    tags: Sequence[str] = ()
    system_tags: Sequence[str] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    origin_run_id: str | None = None
    runtime: str = "local"
    host: str | None = None
    pid: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        data = {
            "format": CLAIM_FORMAT,
            "flow": self.flow,
            "run_id": self.run_id,
            "created_at": self.created_at,
            "user": self.user,
            "tags": sorted(self.tags),
            "system_tags": sorted(self.system_tags),
            "parameters": dict(self.parameters),
            "origin_run_id": self.origin_run_id,
            "runtime": self.runtime,
            "host": self.host,
            "pid": self.pid,
            "extra": dict(self.extra),
        }
        return json.dumps(data, separators=(",", ":"), default=repr).encode()

    @classmethod
    def from_json(cls, data: bytes) -> RunClaim:
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("format") != CLAIM_FORMAT:
            raise ValueError("not a run claim of a known format")
        return cls(
            flow=str(raw["flow"]),
            run_id=str(raw["run_id"]),
            created_at=float(raw["created_at"]),
            user=str(raw["user"]),
            tags=tuple(str(t) for t in raw.get("tags") or ()),
            system_tags=tuple(str(t) for t in raw.get("system_tags") or ()),
            parameters=dict(raw.get("parameters") or {}),
            origin_run_id=raw.get("origin_run_id"),
            runtime=str(raw.get("runtime") or "local"),
            host=raw.get("host"),
            pid=raw.get("pid"),
            extra=dict(raw.get("extra") or {}),
        )


def run_prefix(flow: str, run_id: str) -> str:
    for part in (flow, run_id):
        check_key(part)
        if "/" in part:
            raise ValueError(f"an id cannot contain '/': {part!r}")
    return f"{flow}/{run_id}"


def claim_run(blobs: BlobStore, claim: RunClaim) -> bool:
    """Claim ``claim.run_id`` for this run; ``False`` if the datastore has that run."""
    prefix = run_prefix(claim.flow, claim.run_id)
    if blobs.children(prefix):
        return False  # claimed already, or a run from before claims
    return _put(blobs, f"{prefix}/{CLAIM}", claim.to_json(), f"the claim of run {prefix}")


def read_claim(blobs: BlobStore, flow: str, run_id: str) -> RunClaim | None:
    """The run's claim, ``None`` for a run from before claims (or no such run)."""
    data = _get(blobs, f"{run_prefix(flow, run_id)}/{CLAIM}")
    if data is None:
        return None
    try:
        return RunClaim.from_json(data)
    except (ValueError, KeyError, TypeError) as err:
        raise _damaged(blobs, f"{run_prefix(flow, run_id)}/{CLAIM}", err) from None


def write_final(blobs: BlobStore, flow: str, run_id: str, *, status: str, at: float) -> None:
    """Record how the run ended (written once; a second call changes nothing)."""
    payload = json.dumps({"status": status, "finished_at": at}).encode()
    key = f"{run_prefix(flow, run_id)}/{FINAL}"
    _put(blobs, key, payload, f"the end of run {flow}/{run_id}")


def read_final(blobs: BlobStore, flow: str, run_id: str) -> tuple[str, float] | None:
    """``(status, finished_at)`` of a run that ended, else ``None``."""
    key = f"{run_prefix(flow, run_id)}/{FINAL}"
    data = _get(blobs, key)
    if data is None:
        return None
    try:
        raw = json.loads(data)
        return str(raw["status"]), float(raw["finished_at"])
    except (ValueError, KeyError, TypeError) as err:
        raise _damaged(blobs, key, err) from None


def write_tags(blobs: BlobStore, flow: str, run_id: str, tags: Sequence[str]) -> None:
    """Keep the run's user tags after a change, for a rebuilt index."""
    payload = json.dumps(sorted(tags)).encode()
    key = f"{run_prefix(flow, run_id)}/{TAGS}"
    _put(blobs, key, payload, f"the tags of run {flow}/{run_id}", overwrite=True)


def update_tags(
    blobs: BlobStore,
    flow: str,
    run_id: str,
    *,
    remove: Iterable[str],
    add: Iterable[str],
    start: Sequence[str],
    tries: int = 8,
) -> list[str]:
    """Apply a change of user tags to ``run-tags.json`` (``start``: the tags when the
    file does not exist yet), and check that it held.

    Several processes may change one run's tags at once (on S3 with a local index
    each, nothing else orders them): each applies its own change to what the file
    holds, writes it, reads it back after a moment and applies its change again if
    a concurrent writer's list replaced it. Returns the tags written last.
    """
    removed, added = set(remove), set(add)
    rng = random.Random()
    tags: list[str] = list(start)
    for _ in range(tries):
        current = read_tags(blobs, flow, run_id)
        base = set(start if current is None else current)
        tags = sorted((base - removed) | added)
        if current is not None and sorted(current) == tags:
            return tags
        write_tags(blobs, flow, run_id, tags)
        # Longer than a concurrent writer's read-then-write takes, twice: a list it
        # read before ours landed would replace ours within that time.
        held = True
        for _ in range(2):
            time.sleep(rng.uniform(0.05, 0.15))
            after = set(read_tags(blobs, flow, run_id) or [])
            held = added <= after and not removed & after
            if not held:
                break
        if held:
            return sorted(after)
    return tags


def read_tags(blobs: BlobStore, flow: str, run_id: str) -> list[str] | None:
    """The user tags after the last change, ``None`` if they never changed."""
    key = f"{run_prefix(flow, run_id)}/{TAGS}"
    data = _get(blobs, key)
    if data is None:
        return None
    try:
        tags = json.loads(data)
        if not isinstance(tags, list):
            raise TypeError("not a list")
        return [str(t) for t in tags]
    except (ValueError, TypeError) as err:
        raise _damaged(blobs, key, err) from None


def _put(blobs: BlobStore, key: str, data: bytes, what: str, *, overwrite: bool = False) -> bool:
    try:
        return blobs.put_bytes(key, data, overwrite=overwrite)
    except OSError as err:
        raise write_error(err, what, blobs.url(key)) from None


def _get(blobs: BlobStore, key: str) -> bytes | None:
    try:
        return blobs.get_bytes(key)
    except BlobNotFound:
        return None


def _damaged(blobs: BlobStore, key: str, err: Exception) -> DatastoreError:
    return DatastoreError(
        f"the run file {blobs.url(key)} is damaged ({type(err).__name__}: {err})",
        fix="move it away: the run's records are enough to index it",
    )
