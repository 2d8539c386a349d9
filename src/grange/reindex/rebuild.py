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
from pathlib import Path

from grange.datastore import AttemptRecord, BlobStore, read_record
from grange.datastore.records import RECORD_NAME
from grange.datastore.runs import FINAL, RunClaim, read_claim, read_final, read_tags
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
from grange.metastore.liveness import RuntimeProcess
from grange.metastore.rows import natural_key
from grange.metastore.status import CLUSTER_RUNTIMES, CRASHED, RUNNING

UNKNOWN_USER = "unknown"
SETTLED = frozenset({"ok", "caught"})  # task statuses no later record can change
_BATCH = 500


@dataclass
class RebuildReport:
    """What a rebuild added to the index, and what it could not read."""

    runs: list[str] = field(default_factory=list)  # pathspecs of the runs added
    ended: list[str] = field(default_factory=list)  # known runs whose end was missed
    moved_aside: Path | None = None  # the old index, when a new one replaced it
    tasks: int = 0
    attempts: int = 0
    damaged: list[str] = field(default_factory=list)  # what was skipped, and why
    live: list[str] = field(default_factory=list)  # runs left to their running runtime

    def describe(self) -> str:
        if not self.runs and not self.tasks and not self.ended:
            return "the index was up to date" + self._live_note()
        text = f"added {len(self.runs)} run(s) and {self.tasks} task(s) ({self.attempts} attempts)"
        if self.ended:
            text += f", ended {len(self.ended)} run(s) it held as running"
        if self.runs:
            shown = ", ".join(self.runs[:5]) + (", ..." if len(self.runs) > 5 else "")
            text += f": {shown}"
        if self.damaged:
            text += f"; skipped {len(self.damaged)} damaged file(s): {self.damaged[0]}"
        return text + self._live_note()

    def _live_note(self) -> str:
        if not self.live:
            return ""
        return (
            f"; left {len(self.live)} running run(s) to their runtime ({', '.join(self.live[:3])})"
        )


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
        live = live_runs(metadata, flow) if known_runs else set()
        for run_id in stored_runs(blobs, flow):
            if run_id in known and not known_runs:
                continue
            if run_id in live and not has_ended(blobs, flow, run_id):
                report.live.append(f"{flow}/{run_id}")
                continue
            if progress is not None:
                progress(f"{flow}/{run_id}")
            index_run(blobs, metadata, flow, run_id, known=run_id in known, report=report)
    return report


def reindex_run(blobs: BlobStore, metadata: MetadataStore, flow: str, run_id: str) -> RebuildReport:
    """Bring one run of the index up to date with its records (adding it if missing)."""
    report = RebuildReport()
    known = run_id in metadata.run_ids(flow)
    index_run(blobs, metadata, flow, run_id, known=known, report=report)
    return report


def stored_runs(blobs: BlobStore, flow: str) -> list[str]:
    """The run ids that have a folder in the datastore, oldest first."""
    stored = [r for r in blobs.children(flow) if r != "data"]
    stored.sort(key=lambda r: (not r.isdigit(), natural_key(r)))
    return stored


def live_runs(metadata: MetadataStore, flow: str) -> set[str]:
    """Runs the index has as running with a live runtime: that runtime indexes them.

    Adding their tasks from here would race with it (it registers each task once).
    """
    return {
        r.run_id
        for r in metadata.list_runs(flow, status=RUNNING)
        if r.runtime not in CLUSTER_RUNTIMES  # no runtime indexes a run on a cluster
    }


def has_ended(blobs: BlobStore, flow: str, run_id: str) -> bool:
    """Whether the run's ``run-final.json`` exists (its runtime recorded its end)."""
    return blobs.exists(f"{flow}/{run_id}/{FINAL}")


def index_run(
    blobs: BlobStore,
    metadata: MetadataStore,
    flow: str,
    run_id: str,
    *,
    known: bool,
    report: RebuildReport,
) -> None:
    """Index one run from its files: all of it if the index lacks it, else the tasks
    the index lacks or has not seen finish, and its end if the index missed it."""
    attempts, recorded = _scan(blobs, flow, run_id)
    try:
        claim = read_claim(blobs, flow, run_id)
    except DatastoreError as err:
        report.damaged.append(err.message)
        claim = None
    if claim is None and not recorded and not known:
        return  # an empty folder
    statuses: dict[tuple[str, str], str] = {}
    if known:
        statuses = {(t.step, t.task_id): t.status for t in metadata.list_tasks(flow, run_id)}
    todo = sorted(k for k in attempts if statuses.get(k) not in SETTLED)
    wanted = set(todo)
    records: dict[tuple[str, str, int], AttemptRecord] = {}
    for step, task_id, n in sorted(recorded):
        if (step, task_id) not in wanted:
            continue
        try:
            found = read_record(blobs, flow, run_id, step, task_id, n)
        except DatastoreError as err:
            report.damaged.append(err.message)
            continue
        if found is not None:
            records[(step, task_id, n)] = found
    if known:
        _apply_final(blobs, metadata, flow, run_id, report)
    elif metadata.restore_run(
        _run_row(blobs, flow, run_id, claim, records, report), process=_process(claim)
    ):
        report.runs.append(f"{flow}/{run_id}")
    else:
        return  # indexed meanwhile (by its runtime, or another reader): theirs to fill in
    tasks: list[TaskRow] = []
    results: list[AttemptResult] = []
    for step, task_id in todo:
        new = (step, task_id) not in statuses
        ordered = sorted(attempts[(step, task_id)])
        have = [records[(step, task_id, n)] for n in ordered if (step, task_id, n) in records]
        if new:
            first = min((r.started_at for r in have), default=None)
            tasks.append(
                _task_row(flow, run_id, step, task_id, have[-1] if have else None, started=first)
            )
        elif not have or _outcome(have[-1]) == statuses[(step, task_id)]:
            continue  # as the index has it: still running without a record, or told
        for n in ordered:
            record = records.get((step, task_id, n))
            if record is not None or new:  # an attempt with no record never finished
                results.append(_attempt_result(flow, run_id, step, task_id, n, record))
        report.tasks += 1
        report.attempts += len(ordered)
        if len(results) >= _BATCH:
            metadata.register_tasks(tasks, keep_existing=True)
            metadata.record_attempts(results)
            tasks, results = [], []
    metadata.register_tasks(tasks, keep_existing=True)
    metadata.record_attempts(results)


def _outcome(record: AttemptRecord) -> str:
    """The task status a task's latest record gives it."""
    if record.status == "ok" and record.extra.get("caught"):
        return "caught"
    return record.status


def _scan(
    blobs: BlobStore, flow: str, run_id: str
) -> tuple[dict[tuple[str, str], set[int]], set[tuple[str, str, int]]]:
    """The attempts of each task that left files, and those that left a record."""
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
    return attempts, recorded


def _apply_final(
    blobs: BlobStore, metadata: MetadataStore, flow: str, run_id: str, report: RebuildReport
) -> None:
    """A run the index still holds as running, that the datastore says ended, ends."""
    final = _final(blobs, flow, run_id, report)
    run = metadata.get_run(flow, run_id)
    if final is not None and run is not None and run.status in (RUNNING, CRASHED):
        metadata.finish_run(flow, run_id, status=final[0], at=final[1])
        report.ended.append(f"{flow}/{run_id}")


def _final(
    blobs: BlobStore, flow: str, run_id: str, report: RebuildReport
) -> tuple[str, float] | None:
    try:
        return read_final(blobs, flow, run_id)
    except DatastoreError as err:
        report.damaged.append(err.message)
        return None


def _run_row(
    blobs: BlobStore,
    flow: str,
    run_id: str,
    claim: RunClaim | None,
    records: dict[tuple[str, str, int], AttemptRecord],
    report: RebuildReport,
) -> RunRow:
    times = [r.finished_at for r in records.values()]
    starts = [r.started_at for r in records.values()]
    created = claim.created_at if claim else min(starts, default=time.time())
    last_seen = max([created, *times])
    final = _final(blobs, flow, run_id, report)
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
    except DatastoreError as err:
        report.damaged.append(err.message)
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


def _process(claim: RunClaim | None) -> RuntimeProcess | None:
    """The runtime process a claim names, so that its host sees at once if it is gone."""
    started = claim.extra.get("process_started") if claim else None
    if claim is None or claim.host is None or claim.pid is None or started is None:
        return None
    return RuntimeProcess(claim.host, int(claim.pid), int(started))


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
    status = _outcome(record)
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
