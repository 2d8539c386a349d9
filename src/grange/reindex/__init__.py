"""Keeping the metadata index true to the datastore: claiming run ids, rebuilding, syncing.

The datastore's records are the truth and the index is derived from them
(DESIGN.md). This package is the one place that reads both: it claims each
new run's id in the datastore (:func:`start_run`), puts back into an index
what it lacks (:func:`rebuild`, behind ``grange db rebuild``) and indexes runs
that wrote only records (:func:`sync`, behind ``grange db sync``, and
:func:`index_missing_runs` / :func:`index_stored_run`, which the client calls
when the index lacks what a reader asks for).
"""

from grange.reindex.claim import start_run
from grange.reindex.index import build_local_index, open_local_index
from grange.reindex.rebuild import RebuildReport, flows_in, rebuild
from grange.reindex.sync import (
    index_ended_runs,
    index_if_ended,
    index_missing_runs,
    index_stored_run,
    missing_runs,
    sync,
)

__all__ = [
    "RebuildReport",
    "build_local_index",
    "flows_in",
    "index_ended_runs",
    "index_if_ended",
    "index_missing_runs",
    "index_stored_run",
    "missing_runs",
    "open_local_index",
    "rebuild",
    "start_run",
    "sync",
]
