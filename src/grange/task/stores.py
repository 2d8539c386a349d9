"""The datastore as one task sees it: records of its run, artifacts in and out."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from grange.datastore import (
    ArtifactRef,
    AttemptRecord,
    BlobStore,
    ContentAddressedStore,
    TaskPaths,
    list_attempts,
    read_record,
    write_record,
)
from grange.exceptions import GrangeError

PARAMETERS_STEP = "_parameters"
PARAMETERS_TASK = "0"


class MissingInputError(GrangeError):
    """A parent task has no successful attempt in the datastore."""


class TaskStores:
    """Blob store, content-addressed store and record lookups for one flow."""

    def __init__(self, blobs: BlobStore, flow: str) -> None:
        self.blobs = blobs
        self.flow = flow
        self.cas = ContentAddressedStore(blobs, flow)
        self._records: dict[tuple[str, str, str], AttemptRecord] = {}
        # Set while a step with @secrets runs: raises for a value that holds a secret.
        self.artifact_check: Callable[[str, Any, str], None] | None = None

    def final_record(self, flow: str, run_id: str, step: str, task_id: str) -> AttemptRecord:
        """The record of the task's last successful attempt."""
        key = (run_id, step, task_id)
        cached = self._records.get(key)
        if cached is not None:
            return cached
        # Nearly always the first attempt is the last and succeeded: read it, and
        # list the attempts only if it failed or a second one exists (an attempt
        # can commit "ok" and still be retried, e.g. killed by @timeout after).
        first = read_record(self.blobs, flow, run_id, step, task_id, 0)
        second = TaskPaths(flow, run_id, step, task_id, 1).record
        if first is not None and first.status == "ok" and not self.blobs.exists(second):
            self._records[key] = first
            return first
        for attempt in sorted(list_attempts(self.blobs, flow, run_id, step, task_id), reverse=True):
            record = (
                first
                if attempt == 0
                else read_record(self.blobs, flow, run_id, step, task_id, attempt)
            )
            if record is not None and record.status == "ok":
                self._records[key] = record
                return record
        raise MissingInputError(
            f"task {flow}/{run_id}/{step}/{task_id} has no successful attempt in the datastore "
            f"({self.blobs.describe()})",
            step=step,
            fix="check that every task of the run uses the same --datastore-root",
        )

    def parameters_record(self, run_id: str) -> AttemptRecord:
        return self.final_record(self.flow, run_id, PARAMETERS_STEP, PARAMETERS_TASK)

    def save_artifact(self, name: str, value: Any, step: str) -> ArtifactRef:
        """Store one artifact; an unpicklable value raises an error naming it and the step."""
        if self.artifact_check is not None:
            self.artifact_check(name, value, step)
        return self.cas.save(value, name=name, step=step)

    def save_artifacts(
        self,
        values: Mapping[str, Any],
        step: str,
        *,
        on_error: Callable[[str, Exception], None] | None = None,
    ) -> dict[str, ArtifactRef]:
        """Store a step's artifacts, the small ones in one batch (concurrent puts on S3).

        An unpicklable value (or one the ``artifact_check`` refuses) raises an error
        naming it and the step, or with ``on_error`` is reported to it and left out.
        """
        if self.artifact_check is not None:
            checked = {}
            for name, value in values.items():
                try:
                    self.artifact_check(name, value, step)
                except Exception as err:
                    if on_error is None:
                        raise
                    on_error(name, err)
                    continue
                checked[name] = value
            values = checked
        return self.cas.save_many(values, step=step, on_error=on_error)


def write_parameters(stores: TaskStores, run_id: str, values: Mapping[str, Any]) -> AttemptRecord:
    """Store a run's parameter values (and flow constants) as its ``_parameters`` task."""
    return parameters_record(stores, run_id, save_parameters(stores, values))


def save_parameters(stores: TaskStores, values: Mapping[str, Any]) -> dict[str, ArtifactRef]:
    """The parameter values' blobs, stored (content-addressed: before the run has an id)."""
    return stores.save_artifacts(values, PARAMETERS_STEP)  # one batch (S3: concurrent)


def parameters_record(
    stores: TaskStores, run_id: str, artifacts: dict[str, ArtifactRef]
) -> AttemptRecord:
    """Commit the ``_parameters`` task of ``run_id`` from blobs :func:`save_parameters` stored."""
    now = time.time()
    record = AttemptRecord(
        flow=stores.flow,
        run_id=run_id,
        step=PARAMETERS_STEP,
        task_id=PARAMETERS_TASK,
        attempt=0,
        status="ok",
        started_at=now,
        finished_at=now,
        artifacts=artifacts,
        exception=None,
        extra={},
    )
    write_record(stores.blobs, record)
    return record
