"""``grange push``: copy a finished run from one store to another (a team's).

Everything the run left is copied: its claim, every attempt's record and logs,
its end and tags, and the artifact blobs its records reference (each checked
against its content hash on the way, and skipped when the target has it
already: blobs are shared by content). The run gets a new id in the target,
claimed there as any run is (ids are per store; the target's run 5 may be
someone else's), so its records are rewritten to name it; the claim says where
the run came from (``extra.pushed_from``).

The order makes an interrupted push safe and resumable: blobs first, then logs,
then records (an attempt is visible only once its record is), then the run's
end, then the index. A journal in this machine's cache remembers which target
id a push claimed, so pushing again continues that run instead of claiming a
second one; files already copied are skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grange.datastore import AttemptRecord, BlobStore
from grange.datastore.cas import data_key
from grange.datastore.records import LOG_STREAMS, RECORD_NAME, latest_record
from grange.datastore.runs import (
    CLAIM,
    FINAL,
    TAGS,
    RunClaim,
    claim_run,
    read_claim,
    read_final,
    run_prefix,
)
from grange.exceptions import BlobNotFound, DamagedBlobError, DatastoreError, RecordExistsError
from grange.metastore import MetadataStore
from grange.reindex.rebuild import rebuild, reindex_run

MAX_TRIES = 5
COPY_THREADS = 8


@dataclass
class PushReport:
    """What a push did: the run's new pathspec and what was copied or found there."""

    source: str
    target: str = ""
    resumed: bool = False
    blobs_copied: int = 0
    blobs_present: int = 0
    bytes_copied: int = 0
    files_copied: int = 0
    records: int = 0
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"{self.records} records, {self.files_copied} logs and run files, "
            f"{self.blobs_copied} artifact blobs copied ({_size(self.bytes_copied)}), "
            f"{self.blobs_present} already there"
        )


def push_run(
    source: BlobStore,
    flow: str,
    run_id: str,
    target: BlobStore,
    metadata: MetadataStore,
    *,
    journal: Path,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> PushReport:
    """Copy run ``flow/run_id`` of ``source`` into ``target`` and index it in ``metadata``.

    ``journal`` is the file remembering the target run id across attempts.
    A run that has not ended is refused unless ``force`` (a crashed run).
    """
    say = progress or (lambda _: None)
    report = PushReport(source=f"{flow}/{run_id}")
    prefix = run_prefix(flow, run_id)
    claim = read_claim(source, flow, run_id)
    keys = source.list(prefix)
    if claim is None and not keys:
        raise DatastoreError(
            f"there is no run {flow}/{run_id} in {source.describe()}",
            fix="check the run id with 'grange runs' (it is the number after the flow's name)",
        )
    if read_final(source, flow, run_id) is None and not force:
        raise DatastoreError(
            f"run {flow}/{run_id} has not ended (it is running, or its runtime was killed)",
            fix="push it once it has ended; a run whose runtime died can be pushed with --force",
        )
    claim = claim or RunClaim(
        flow=flow, run_id=run_id, created_at=_first_time(source, keys), user="unknown"
    )
    origin = {"store": source.describe(), "run": f"{flow}/{run_id}"}
    new_id, report.resumed = _target_run(target, metadata, claim, origin, journal)
    report.target = f"{flow}/{new_id}"
    say(f"pushing {flow}/{run_id} to {target.describe()} as {flow}/{new_id}")

    records: list[tuple[str, AttemptRecord]] = []
    others: list[str] = []
    for key in keys:
        name = key.rsplit("/", 1)[-1]
        if name == RECORD_NAME:
            records.append((key, _read_record(source, key)))
        elif key[len(prefix) + 1 :] not in (CLAIM, FINAL, TAGS):
            others.append(key)
    blob_keys = sorted({k for _, record in records for k in _blob_keys(flow, record)})
    say(f"  {len(blob_keys)} artifact blobs, {len(records)} records, {len(others)} logs")
    with ThreadPoolExecutor(COPY_THREADS, thread_name_prefix="grange-push") as pool:
        for copied, size in pool.map(lambda k: _copy_blob(source, target, k), blob_keys):
            if copied:
                report.blobs_copied += 1
                report.bytes_copied += size
            else:
                report.blobs_present += 1
        new_prefix = run_prefix(flow, new_id)
        renamed = [(k, new_prefix + k[len(prefix) :]) for k in others]
        for _ in pool.map(
            lambda kv: target.put_bytes(kv[1], source.get_bytes(kv[0]), overwrite=True), renamed
        ):
            report.files_copied += 1
    for key, record in records:
        if isinstance(record.extra.get("origin"), str):
            report.files_copied += _copy_origin_logs(source, target, record, new_prefix)
        _put_record(target, _renamed(record, run_id, new_id), key)
        report.records += 1
    for name in (TAGS, FINAL):
        with contextlib.suppress(BlobNotFound):
            data = source.get_bytes(f"{prefix}/{name}")
            target.put_bytes(f"{new_prefix}/{name}", data, overwrite=name == TAGS)
            report.files_copied += 1
    reindex_run(target, metadata, flow, new_id)
    _write_journal(journal, {"target_run_id": new_id, "done": True})
    return report


def journal_path(cache: Path, source: str, target: str, flow: str, run_id: str) -> Path:
    """Where the journal of pushing ``flow/run_id`` from ``source`` to ``target`` lives."""
    digest = hashlib.sha1(f"{source}\n{target}\n{flow}/{run_id}".encode(), usedforsecurity=False)
    return cache / "push" / f"{flow}-{run_id}-{digest.hexdigest()[:16]}.json"


def _target_run(
    target: BlobStore,
    metadata: MetadataStore,
    claim: RunClaim,
    origin: dict[str, str],
    journal: Path,
) -> tuple[str, bool]:
    """The run id in ``target``: the one an earlier push claimed, else a new one."""
    earlier = _read_journal(journal).get("target_run_id")
    if isinstance(earlier, str):
        found = read_claim(target, claim.flow, earlier)
        if found is not None and found.extra.get("pushed_from") == origin:
            if earlier not in metadata.run_ids(claim.flow):
                reindex_run(target, metadata, claim.flow, earlier)
            return earlier, True
    for _ in range(MAX_TRIES):
        new_id = metadata.new_run(
            claim.flow,
            user=claim.user,
            tags=claim.tags,
            system_tags=claim.system_tags,
            parameters=claim.parameters,
            runtime=claim.runtime,
            created_at=claim.created_at,
        )
        extra = {**claim.extra, "pushed_from": origin}
        if claim.origin_run_id:
            extra["pushed_origin_run_id"] = claim.origin_run_id
        moved = replace(claim, run_id=new_id, origin_run_id=None, extra=extra)
        try:
            claimed = claim_run(target, moved)
        except BaseException:
            metadata.discard_run(claim.flow, new_id)
            raise
        if claimed:
            _write_journal(journal, {"target_run_id": new_id, "done": False})
            return new_id, False
        metadata.discard_run(claim.flow, new_id)
        rebuild(target, metadata, flows=[claim.flow], known_runs=False)
    raise DatastoreError(
        f"could not claim a run id for {claim.flow} in {target.describe()}",
        fix="rebuild the target's index with 'grange db rebuild', then push again",
    )


def _blob_keys(flow: str, record: AttemptRecord) -> list[str]:
    keys = [data_key(flow, ref.key) for ref in record.artifacts.values()]
    foreach = record.extra.get("foreach")
    if isinstance(foreach, dict) and isinstance(foreach.get("key"), str):
        keys.append(data_key(flow, foreach["key"]))
    return keys


def _copy_blob(source: BlobStore, target: BlobStore, key: str) -> tuple[bool, int]:
    """Copy one content-addressed blob unless the target has it; its hash is checked."""
    if target.exists(key):
        return False, 0
    content = key.rsplit("/", 1)[-1]
    if source.sha1(key) != content:
        raise DamagedBlobError(
            f"the blob {source.url(key)} is damaged (its bytes do not hash to its name); "
            "it was not pushed",
            fix="re-run the step that made it (resume), then push the new run",
        )
    buffer = source.open_buffer(key)
    try:
        written = target.put_chunks(key, (buffer,))
        return written, len(buffer)
    finally:
        buffer.release()


def _read_record(source: BlobStore, key: str) -> AttemptRecord:
    try:
        return AttemptRecord.from_json(source.get_bytes(key))
    except (ValueError, KeyError, TypeError) as err:
        raise DatastoreError(
            f"the record {source.url(key)} is damaged ({err}); the run was not pushed",
            fix="move that attempt's folder away (the task then counts as not run), then push",
        ) from None


def _copy_origin_logs(
    source: BlobStore, target: BlobStore, record: AttemptRecord, new_prefix: str
) -> int:
    """A task a resume reused printed nothing in this run: its logs are its origin's,
    in a run the target does not have. They are copied into the pushed task's folder."""
    origin = record.extra.get("origin")
    seen: set[str] = set()
    found: AttemptRecord | None = None
    while isinstance(origin, str) and origin not in seen and origin.count("/") == 3:
        seen.add(origin)
        flow, run, step, task = origin.split("/")
        found = latest_record(source, flow, run, step, task)
        if found is None:
            return 0
        origin = found.extra.get("origin")
    if found is None:
        return 0
    copied = 0
    for stream in LOG_STREAMS:
        here = f"{new_prefix}/{record.step}/{record.task_id}/{record.attempt}/{stream}.log"
        try:
            data = source.get_bytes(found.paths.log(stream))
        except BlobNotFound:
            continue
        target.put_bytes(here, data, overwrite=True)
        copied += 1
    return copied


def _renamed(record: AttemptRecord, old: str, new: str) -> AttemptRecord:
    extra = dict(record.extra)
    if "origin" in extra:  # a task of another run of the source store: not in the target
        extra["pushed_origin"] = extra.pop("origin")
    inputs = extra.get("inputs")
    if isinstance(inputs, list):
        extra["inputs"] = [
            new + p[len(old) :] if isinstance(p, str) and p.startswith(old + "/") else p
            for p in inputs
        ]
    return replace(record, run_id=new, extra=extra)


def _put_record(target: BlobStore, record: AttemptRecord, source_key: str) -> None:
    payload = record.to_json().encode()
    key = record.paths.record
    if target.put_bytes(key, payload):
        return
    if target.get_bytes(key) != payload:  # an earlier, interrupted push wrote the same
        raise RecordExistsError(
            f"{target.url(key)} exists and is not the record {source_key} being pushed",
            fix="the target run was changed by someone else; push again with a fresh "
            "journal (delete it) to give the run a new id",
        )


def _first_time(source: BlobStore, keys: list[str]) -> float:
    for key in keys:
        if key.endswith(RECORD_NAME):
            with contextlib.suppress(Exception):
                return AttemptRecord.from_json(source.get_bytes(key)).started_at
    return time.time()


def _read_journal(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_journal(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    temp.write_text(json.dumps(data))
    os.replace(temp, path)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"
