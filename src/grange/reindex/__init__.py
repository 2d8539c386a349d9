"""Keeping the metadata index true to the datastore: claiming run ids, rebuilding.

The datastore's records are the truth and the index is derived from them
(DESIGN.md). This package is the one place that reads both: it claims each
new run's id in the datastore (:func:`start_run`) and puts back into an index
what it lacks (:func:`rebuild`, behind ``grange db rebuild``).
"""

from grange.reindex.claim import start_run
from grange.reindex.index import build_local_index, open_local_index
from grange.reindex.rebuild import RebuildReport, flows_in, rebuild

__all__ = [
    "RebuildReport",
    "build_local_index",
    "flows_in",
    "open_local_index",
    "rebuild",
    "start_run",
]
