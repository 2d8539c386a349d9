"""Starting a run: an id from the index, claimed in the datastore.

The index hands out ids from a counter, but only the datastore can say
whether an id is free: an index that was lost, replaced (``--metadata``) or
restored from an old copy would otherwise hand out an id whose folder holds
another run's records, and the new run would read them as its own. So the id
is claimed in the datastore too (:func:`grange.datastore.runs.claim_run`, an
atomic create-if-absent); when the claim fails, the run is dropped from the
index, the index is brought up to date from the datastore's records
(:func:`~grange.reindex.rebuild.rebuild`), and the next id is tried.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from grange.datastore import BlobStore
from grange.datastore.runs import RunClaim, claim_run
from grange.exceptions import DatastoreError
from grange.metastore import MetadataStore
from grange.metastore.liveness import RuntimeProcess
from grange.reindex.rebuild import rebuild

MAX_TRIES = 5


def start_run(
    metadata: MetadataStore,
    blobs: BlobStore,
    flow: str,
    *,
    user: str,
    tags: Iterable[str] = (),
    system_tags: Iterable[str] = (),
    parameters: Mapping[str, Any] | None = None,
    origin_run_id: str | None = None,
    runtime: str = "local",
    run_id: str | None = None,
    notice: Callable[[str], None] | None = None,
    process: RuntimeProcess | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Create a running run in the index, claimed in the datastore; its id.

    ``extra`` goes into the claim as it is (``code_package``: the run's code package).
    """
    tags, system_tags = list(tags), list(system_tags)
    for _ in range(MAX_TRIES):
        now = time.time()  # one creation time in the index and in the claim
        new_id = metadata.new_run(
            flow,
            user=user,
            tags=tags,
            system_tags=system_tags,
            parameters=parameters,
            origin_run_id=origin_run_id,
            runtime=runtime,
            run_id=run_id,
            process=process,
            created_at=now,
        )
        claim = RunClaim(
            flow=flow,
            run_id=new_id,
            created_at=now,
            user=user,
            tags=tags,
            system_tags=system_tags,
            parameters=dict(parameters or {}),
            origin_run_id=origin_run_id,
            runtime=runtime,
            host=process.host if process else socket.gethostname(),
            pid=process.pid if process else os.getpid(),
            extra={
                **({"process_started": process.started} if process else {}),
                **(extra or {}),
            },
        )
        try:
            claimed = claim_run(blobs, claim)
        except BaseException:
            metadata.discard_run(flow, new_id)  # no run without its claim
            raise
        if claimed:
            return new_id
        metadata.discard_run(flow, new_id)
        if run_id is not None:
            raise DatastoreError(
                f"run {flow}/{run_id} exists already in {blobs.describe()}",
                fix="choose another run id",
            )
        report = rebuild(blobs, metadata, flows=[flow], known_runs=False)
        if notice is not None:
            notice(
                f"the metadata index did not know run {flow}/{new_id}, which the datastore "
                f"holds: it is older than the datastore, or new; rebuilt it from the "
                f"records ({report.describe()})"
            )
    raise DatastoreError(
        f"could not claim a new run id for {flow} in {blobs.describe()} after {MAX_TRIES} tries",
        fix="rebuild the index from the datastore with 'grange db rebuild', then run again",
    )
