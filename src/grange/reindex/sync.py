"""Indexing what the datastore holds and the index lacks, without rebuilding anything.

A task that cannot reach the metadata database (a pod on a cluster, a
laptop offline from the team's PostgreSQL) still writes its records to the
datastore, which is the truth; the index learns of them later, from whoever
can write it:

- :func:`sync` (``grange db sync``): every run of the given flows that the
  index lacks, and the tasks it lacks of runs it holds as unfinished (their
  runtime is gone); runs whose runtime is alive are left to it. Runs the index
  has as finished are not read at all, so it costs one listing per flow plus
  the unfinished runs' files (``grange db rebuild`` reads every run).
- :func:`index_missing_runs`: what a reader does, at most once per flow per
  process: one listing of the flow's run folders, compared with the index;
  and :func:`index_ended_runs`: the runs it has as crashed that have ended
  since (a run indexed while it ran elsewhere), and the runs running on a
  cluster (Argo), whose tasks only readers index.
- :func:`index_stored_run`: a reader asked for one run the index lacks (and
  :func:`index_if_ended` for one it has as crashed).

Each of them leaves a run the index gains meanwhile (its own runtime registered
it) to that runtime, and never changes what the index has as finished.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from grange.datastore import BlobStore
from grange.metastore import MetadataStore
from grange.metastore.rows import natural_key
from grange.metastore.status import CLUSTER_RUNTIMES, CRASHED, RUNNING
from grange.reindex.rebuild import RebuildReport, flows_in, has_ended, index_run, stored_runs

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


def sync(
    blobs: BlobStore,
    metadata: MetadataStore,
    *,
    flows: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> RebuildReport:
    """Index the runs the index lacks and the missing tasks of its unfinished runs."""
    report = RebuildReport()
    for flow in flows_in(blobs) if flows is None else flows:
        known = metadata.run_ids(flow)
        unfinished = {r.run_id for r in metadata.list_runs(flow, status=CRASHED)}
        unfinished |= set(cluster_runs(metadata, flow))
        for run_id in stored_runs(blobs, flow):
            if run_id in known and run_id not in unfinished:
                continue
            if progress is not None:
                progress(f"{flow}/{run_id}")
            index_run(blobs, metadata, flow, run_id, known=run_id in known, report=report)
    return report


def missing_runs(blobs: BlobStore, metadata: MetadataStore, flow: str) -> list[str]:
    """Run ids of ``flow`` with a folder in the datastore that the index lacks."""
    stored = [r for r in blobs.children(flow) if r != "data"]
    if not stored:
        return []
    known = metadata.run_ids(flow)
    missing = [r for r in stored if r not in known and _RUN_ID.match(r)]
    return sorted(missing, key=lambda r: (not r.isdigit(), natural_key(r)))


def index_missing_runs(blobs: BlobStore, metadata: MetadataStore, flow: str) -> RebuildReport:
    """Index every run of ``flow`` whose folder is in the datastore but not in the index."""
    report = RebuildReport()
    for run_id in missing_runs(blobs, metadata, flow):
        index_run(blobs, metadata, flow, run_id, known=False, report=report)
    return report


def index_ended_runs(blobs: BlobStore, metadata: MetadataStore, flow: str) -> RebuildReport:
    """Bring up to date the runs of ``flow`` the index has as crashed (stored as running,
    no runtime seen) that the datastore says ended: their tasks and how they ended.

    Such a run was indexed while it ran elsewhere (by a reader, or a ``sync``); one
    ``run-final.json`` lookup per such run, so a run that did crash costs little."""
    report = RebuildReport()
    for run in metadata.list_runs(flow, status=CRASHED):
        if has_ended(blobs, flow, run.run_id):
            index_run(blobs, metadata, flow, run.run_id, known=True, report=report)
    for run_id in cluster_runs(metadata, flow):
        index_run(blobs, metadata, flow, run_id, known=True, report=report)
    return report


def cluster_runs(metadata: MetadataStore, flow: str) -> list[str]:
    """Runs of ``flow`` running on a cluster (Argo): no runtime indexes their tasks, so
    readers do, from the records (see ``grange.metastore.status.CLUSTER_RUNTIMES``)."""
    return [
        r.run_id for r in metadata.list_runs(flow, status=RUNNING) if r.runtime in CLUSTER_RUNTIMES
    ]


def index_if_ended(
    blobs: BlobStore, metadata: MetadataStore, flow: str, run_id: str, *, cluster: bool = False
) -> RebuildReport:
    """:func:`index_ended_runs` for one run that the index has as crashed, or (``cluster``)
    as running on a cluster: its new tasks too, ended or not."""
    report = RebuildReport()
    if cluster or has_ended(blobs, flow, run_id):
        index_run(blobs, metadata, flow, run_id, known=True, report=report)
    return report


def stored_run(blobs: BlobStore, flow: str, run_id: str) -> bool:
    """Whether the datastore holds anything of run ``flow/run_id``."""
    if not _RUN_ID.match(run_id) or not flow.isidentifier() or run_id == "data":
        return False
    return bool(blobs.children(f"{flow}/{run_id}"))


def index_stored_run(
    blobs: BlobStore, metadata: MetadataStore, flow: str, run_id: str
) -> RebuildReport:
    """Index run ``flow/run_id`` if the datastore holds it (the index lacks it)."""
    report = RebuildReport()
    if stored_run(blobs, flow, run_id):
        index_run(blobs, metadata, flow, run_id, known=False, report=report)
    return report
