"""Runs that wrote only records are indexed by whoever reads them.

A task that could not reach the metadata database (a pod on a cluster, a
runtime pointed at another index) leaves its records in the datastore, which
is the truth, and nothing in the index. Before the client answers a question
about a flow, it indexes what the datastore holds and the index lacks
(:func:`grange.reindex.index_missing_runs`): at most once per flow per
process, for the cost of one listing of the flow's run folders compared with
the index's run ids; and it brings up to date the runs the index has as
crashed that the datastore says ended (indexed while they ran elsewhere).
Asked for one run the index lacks (``Run("F/7")``), it looks for that run's
folder alone (:func:`index_if_stored`); asked for one it has as crashed, for
its ``run-final.json`` (:func:`refresh_if_ended`).

The client writes into the index only where it may: on an index it cannot
write (a read-only store, a PostgreSQL user without write rights, a read
replica) it says once, on stderr, which runs it cannot show and how to index
them, and a lookup of such a run raises :class:`~grange.exceptions.ObjectNotFound`
saying the same.

"Once per process" suits a script or a notebook. A process that lives on
(``grange ui``) calls :func:`forget_synced` every few seconds, so that it sees
the runs that other processes, elsewhere, stored since (and their ends).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from grange.exceptions import ObjectNotFound, StoreReadOnlyError
from grange.metastore.status import CLUSTER_RUNTIMES, CRASHED, RUNNING
from grange.metastore.urls import mask_url

if TYPE_CHECKING:
    from grange.client.config import Stores
    from grange.metastore import RunRow

_ALL_FLOWS = "*"  # in Stores.synced: the flows of the whole datastore were compared


def forget_synced(stores: Stores) -> None:
    """Forget which flows and runs were compared with the datastore: the next read of
    each compares again (for a long-lived reader, e.g. every few seconds)."""
    stores.synced.clear()


def sync_flow(stores: Stores, flow: str) -> None:
    """Index the runs of ``flow`` that the datastore holds and the index lacks (once)."""
    if flow in stores.synced:
        return
    stores.synced.add(flow)
    if not flow.isidentifier():
        return
    from grange.reindex import index_ended_runs, index_missing_runs, missing_runs

    try:
        index_missing_runs(stores.blobs, stores.metadata, flow)
        index_ended_runs(stores.blobs, stores.metadata, flow)
    except StoreReadOnlyError:
        missing = missing_runs(stores.blobs, stores.metadata, flow)
        if missing:
            _say_not_indexed(stores, flow, missing)


def sync_flows(stores: Stores) -> None:
    """Index the flows that have runs in the datastore and none in the index (once)."""
    if _ALL_FLOWS in stores.synced:
        return
    stores.synced.add(_ALL_FLOWS)
    known = {f.name for f in stores.metadata.list_flows()}
    for name in stores.blobs.children():
        if name.isidentifier() and name not in known:
            sync_flow(stores, name)


def index_if_stored(stores: Stores, flow: str, run_id: str) -> bool:
    """Index run ``flow/run_id`` from the datastore when the index lacks it and the
    datastore holds it; whether the index has it now. Called on a lookup's miss."""
    from grange.reindex import index_stored_run
    from grange.reindex.sync import stored_run

    if stores.metadata.get_run(flow, run_id) is not None:
        return False  # the miss is elsewhere (a step, a task)
    if not stored_run(stores.blobs, flow, run_id):
        return False
    try:
        index_stored_run(stores.blobs, stores.metadata, flow, run_id)
    except StoreReadOnlyError:
        raise ObjectNotFound(
            f"run {flow}/{run_id} is in the datastore ({stores.blobs.describe()}) but not in "
            f"the metadata index {mask_url(stores.describe())}, which cannot be written from here",
            pathspec=f"{flow}/{run_id}",
            fix=f"index it where the index can be written: grange db sync --flow {flow}",
        ) from None
    return stores.metadata.get_run(flow, run_id) is not None


def refresh_if_ended(stores: Stores, row: RunRow) -> RunRow:
    """A run the index has as crashed, brought up to date (once per process) if the
    datastore says it ended: it ran where the index could not follow it. A run
    running on a cluster (Argo) is brought up to date too: its tasks so far, its end."""
    key = f"{row.flow}/{row.run_id}"
    cluster = row.status == RUNNING and row.runtime in CLUSTER_RUNTIMES
    if (row.status != CRASHED and not cluster) or key in stores.synced or row.flow in stores.synced:
        return row
    stores.synced.add(key)
    from grange.reindex import index_if_ended

    try:
        report = index_if_ended(
            stores.blobs, stores.metadata, row.flow, row.run_id, cluster=cluster
        )
    except StoreReadOnlyError:
        return row
    if not report.tasks and not report.ended:
        return row
    return stores.metadata.get_run(row.flow, row.run_id) or row


def _say_not_indexed(stores: Stores, flow: str, missing: list[str]) -> None:
    shown = ", ".join(f"{flow}/{r}" for r in missing[:5]) + (", ..." if len(missing) > 5 else "")
    print(
        f"grange: {len(missing)} run(s) of {flow} are in the datastore but not in the metadata "
        f"index {mask_url(stores.describe())}, which cannot be written from here, so they are not "
        f"shown ({shown}); index them where it can be written: grange db sync --flow {flow}",
        file=sys.stderr,
        flush=True,
    )
