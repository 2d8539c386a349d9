"""Rebuilding the metadata index from the datastore, where the truth is.

Every attempt that finished left a ``record.json``; every run since claims
began left ``run.json`` (who, when, tags, parameters), ``run-final.json`` once
it ended and ``run-tags.json`` after a tag change (see
:mod:`grange.datastore.runs`). From those, :func:`rebuild` puts back into an
index every run it lacks, with its tasks, attempts and artifacts, and fills in
the tasks an index missed of runs it knows (a runtime killed before its last
batch reached the index).

What a rebuilt index cannot know: the attempts that never committed a record
(shown as ``crashed``), and, for runs stored before claims, their user (they
belong to ``user:unknown``), tags and parameter values (the artifacts are
there). A run with no ``run-final.json`` and no successful ``end`` task is
indexed as running with its last activity as heartbeat, so it reads as
crashed (or running, while its runtime is alive).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from grange.datastore import AttemptRecord, BlobStore, read_record
from grange.datastore.records import RECORD_NAME
from grange.datastore.runs import RunClaim, read_claim, read_final, read_tags
from grange.exceptions import DatastoreError
from grange.metastore import (
    ArtifactRow,
    AttemptRow,
    MetadataStore,
    RunRow,
    RunTags,
    TaskRow,
)
from grange.metastore import AttemptRecord as AttemptResult
from grange.metastore.rows import natural_key

UNKNOWN_USER = "unknown"
_BATCH = 500


@dataclass
class RebuildReport:
    """What a rebuild added to the index, and what it could not read."""

    runs: list[str] = field(default_factory=list)  # pathspecs of the runs added
    tasks: int = 0
    attempts: int = 0
    damaged: list[str] = field(default_factory=list)  # what was skipped, and why

    def describe(self) -> str:
        if not self.runs and not self.tasks:
            return "the index was up to date"
        text = f"added {len(self.runs)} run(s) and {self.tasks} task(s) ({self.attempts} attempts)"
        if self.runs:
            shown = ", ".join(self.runs[:5]) + (", ..." if len(self.runs) > 5 else "")
            text += f": {shown}"
        if self.damaged:
            text += f"; skipped {len(self.damaged)} damaged file(s): {self.damaged[0]}"
        return text


def flows_in(blobs: BlobStore) -> list[str]:
    """Names of the flows that have a folder in the datastore."""
    return [name for name in blobs.children() if name.isidentifier() and blobs.children(name)]


def rebuild(
    blobs: BlobStore,
    metadata: MetadataStore,
    *,
    flows: Iterable[str] | None = None,
    known_runs: bool = True,
    progress: Callable[[str], None] | None = None,
) -> RebuildReport:
    """Index every run of ``flows`` (all flows by default) that the index lacks.

    With ``known_runs``, runs the index knows are checked too, and tasks it
    lacks are added to them. Runs are added oldest first.
    """
    report = RebuildReport()
    for flow in flows_in(blobs) if flows is None else flows:
        known = metadata.run_ids(flow)
        stored = [r for r in blobs.children(flow) if r != "data"]
        stored.sort(key=lambda r: (not r.isdigit(), natural_key(r)))
        for run_id in stored:
            if run_id in known and not known_runs:
                continue
            if progress is not None:
                progress(f"{flow}/{run_id}")
            _index_run(blobs, metadata, flow, run_id, known=run_id in known, report=report)
    return report


def _index_run(
    blobs: BlobStore,
    metadata: MetadataStore,
    flow: str,
    run_id: str,
    *,
    known: bool,
    report: RebuildReport,
) -> None:
    attempts: dict[tuple[str, str], set[int]] = defaultdict(set)
    recorded: set[tuple[str, str, int]] = set()
    prefix = f"{flow}/{run_id}/"
    for key in blobs.list(prefix):
        parts = key[len(prefix) :].split("/")
        if len(parts) != 4 or not parts[2].isdigit():
            continue
        step, task_id, attempt, name = parts
        attempts[(step, task_id)].add(int(attempt))
        if name == RECORD_NAME:
            recorded.add((step, task_id, int(attempt)))
    try:
        claim = read_claim(blobs, flow, run_id)
    except DatastoreError as err:
        report.damaged.append(err.message)
        claim = None
    if claim is None and not recorded and not known:
        return  # an empty folder, or a run that claimed and never started
    indexed: set[tuple[str, str]] = set()
    if known:
        indexed = {(t.step, t.task_id) for t in metadata.list_tasks(flow, run_id)}
    records: dict[tuple[str, str, int], AttemptRecord] = {}
    for step, task_id, n in sorted(recorded):
        if (step, task_id) in indexed:
            continue
        try:
            found = read_record(blobs, flow, run_id, step, task_id, n)
        except DatastoreError as err:
            report.damaged.append(err.message)
            continue
        if found is not None:
            records[(step, task_id, n)] = found
    if not known:
        metadata.restore_run(_run_row(blobs, flow, run_id, claim, records))
        report.runs.append(f"{flow}/{run_id}")
    tasks: list[TaskRow] = []
    results: list[AttemptResult] = []
    for (step, task_id), numbers in sorted(attempts.items()):
        if (step, task_id) in indexed:
            continue
        ordered = sorted(numbers)
        last = next(
            (
                records[(step, task_id, n)]
                for n in reversed(ordered)
                if (step, task_id, n) in records
            ),
            None,
        )
        tasks.append(
            _task_row(
                flow,
                run_id,
                step,
                task_id,
                last,
                started=min(
                    (
                        records[(step, task_id, n)].started_at
                        for n in ordered
                        if (step, task_id, n) in records
                    ),
                    default=None,
                ),
            )
        )
        for n in ordered:
            record = records.get((step, task_id, n))
            results.append(_attempt_result(flow, run_id, step, task_id, n, record))
        report.tasks += 1
        report.attempts += len(ordered)
        if len(results) >= _BATCH:
            metadata.register_tasks(tasks)
            metadata.record_attempts(results)
            tasks, results = [], []
    metadata.register_tasks(tasks)
    metadata.record_attempts(results)


def _run_row(
    blobs: BlobStore,
    flow: str,
    run_id: str,
    claim: RunClaim | None,
    records: dict[tuple[str, str, int], AttemptRecord],
) -> RunRow:
    times = [r.finished_at for r in records.values()]
    starts = [r.started_at for r in records.values()]
    created = claim.created_at if claim else min(starts, default=time.time())
    last_seen = max([created, *times])
    try:
        final = read_final(blobs, flow, run_id)
    except DatastoreError:
        final = None
    ended_ok = any(r.status == "ok" and r.step == "end" for r in records.values())
    if final is not None:
        status, finished_at = final
    elif ended_ok:
        status, finished_at = "succeeded", last_seen
    else:
        status, finished_at = "running", None
    user = claim.user if claim else UNKNOWN_USER
    system = set(claim.system_tags) if claim else {f"user:{UNKNOWN_USER}"}
    user_tags: Iterable[str] = claim.tags if claim else ()
    try:
        changed = read_tags(blobs, flow, run_id)
    except DatastoreError:
        changed = None
    if changed is not None:
        user_tags = changed
    return RunRow(
        flow=flow,
        run_id=run_id,
        number=0,  # given by the index
        user=user,
        status=status,
        created_at=created,
        started_at=created,
        finished_at=finished_at,
        heartbeat_at=last_seen,
        origin_run_id=claim.origin_run_id if claim else None,
        runtime=claim.runtime if claim else "local",
        parameters=dict(claim.parameters) if claim else {},
        tags=RunTags(frozenset(user_tags) - system, frozenset(system)),
    )


def _task_row(
    flow: str,
    run_id: str,
    step: str,
    task_id: str,
    record: AttemptRecord | None,
    *,
    started: float | None,
) -> TaskRow:
    """The task as its latest record describes it, created when its first attempt started."""
    extra = record.extra if record else {}
    return TaskRow(
        flow,
        run_id,
        step,
        task_id,
        created_at=started,
        foreach_stack=list(extra.get("frames") or ()),
        parent_task_ids=[
            p if p.count("/") == 3 else f"{flow}/{p}" for p in extra.get("inputs") or ()
        ],
        origin_task=extra.get("origin"),
    )


def _attempt_result(
    flow: str, run_id: str, step: str, task_id: str, attempt: int, record: AttemptRecord | None
) -> AttemptResult:
    if record is None:  # the attempt started (it has logs) and never committed
        row = AttemptRow(flow, run_id, step, task_id, attempt, status="crashed")
        return AttemptResult(row, [])
    status = "caught" if record.status == "ok" and record.extra.get("caught") else record.status
    row = AttemptRow(
        flow,
        run_id,
        step,
        task_id,
        attempt,
        started_at=record.started_at,
        finished_at=record.finished_at,
        status=status,
        exit_code=0 if record.status == "ok" else 1,
        exception=record.exception,
    )
    artifacts = [
        ArtifactRow(name, ref.key, ref.size, ref.type, ref.encoding)
        for name, ref in record.artifacts.items()
    ]
    return AttemptResult(row, artifacts)
