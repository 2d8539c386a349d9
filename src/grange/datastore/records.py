"""The record of one task attempt, and where an attempt's files live.

Every attempt has a folder ``<flow>/<run>/<step>/<task>/<attempt>/`` holding::

    record.json   the AttemptRecord: status, timing, artifact name -> blob
    stdout.log    what the task printed
    stderr.log

``record.json`` is written last and in one atomic put, so an attempt is
visible exactly when its record is: a task killed at any point before leaves
no record, and readers treat it as never finished. Logs may exist without a
record (they are appended while the task runs).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, Literal

from grange.datastore.backend import BlobStore, check_key
from grange.datastore.cas import ArtifactRef
from grange.datastore.errors import write_error
from grange.exceptions import BlobNotFound, DatastoreError, RecordExistsError

# Compact, so that the C encoder writes it: records are written by every task.
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
RECORD_FORMAT = 1
RECORD_NAME = "record.json"
LOG_STREAMS = ("stdout", "stderr")

Status = Literal["ok", "failed"]


@dataclass(frozen=True)
class TaskPaths:
    """The keys of one attempt's files."""

    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int

    def __post_init__(self) -> None:
        for part in (self.flow, self.run_id, self.step, self.task_id):
            if "/" in part:
                raise ValueError(f"an id cannot contain '/': {part!r}")
            check_key(part)
        if self.attempt < 0:
            raise ValueError(f"attempt must be >= 0, not {self.attempt}")

    @property
    def task_prefix(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"

    @property
    def prefix(self) -> str:
        """``<flow>/<run>/<step>/<task>/<attempt>``."""
        return f"{self.task_prefix}/{self.attempt}"

    @property
    def record(self) -> str:
        return f"{self.prefix}/{RECORD_NAME}"

    def log(self, stream: str) -> str:
        """The key of the ``stdout`` or ``stderr`` log."""
        if stream not in LOG_STREAMS:
            raise ValueError(f"a log stream is one of {LOG_STREAMS}, not {stream!r}")
        return f"{self.prefix}/{stream}.log"

    @property
    def stdout(self) -> str:
        return self.log("stdout")

    @property
    def stderr(self) -> str:
        return self.log("stderr")


@dataclass
class AttemptRecord:
    """What one attempt of one task did.

    ``started_at``/``finished_at`` are epoch seconds; ``exception`` is
    ``{"type", "message", "traceback"}`` for a failed attempt; ``extra`` holds
    what upper layers need to keep with the attempt (foreach stack, the
    transition taken, ...), as JSON-compatible values.
    """

    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    status: Status
    started_at: float
    finished_at: float
    artifacts: dict[str, ArtifactRef] = field(default_factory=dict)
    exception: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in ("ok", "failed"):
            raise ValueError(f"status must be 'ok' or 'failed', not {self.status!r}")

    @property
    def paths(self) -> TaskPaths:
        return TaskPaths(self.flow, self.run_id, self.step, self.task_id, self.attempt)

    def to_json(self) -> str:
        data = {
            "format": RECORD_FORMAT,
            "flow": self.flow,
            "run_id": self.run_id,
            "step": self.step,
            "task_id": self.task_id,
            "attempt": self.attempt,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "artifacts": {name: ref.to_dict() for name, ref in sorted(self.artifacts.items())},
            "exception": self.exception,
            "extra": self.extra,
        }
        return _ENCODER.encode(data)

    @classmethod
    def from_json(cls, text: str | bytes) -> AttemptRecord:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"a record is a JSON object, not {type(data).__name__}")
        if data.get("format") != RECORD_FORMAT:
            raise ValueError(f"unknown attempt record format {data.get('format')!r}")
        # Interned: a join reads a record per parent, all of one flow, run and step.
        return cls(
            flow=sys.intern(data["flow"]),
            run_id=sys.intern(data["run_id"]),
            step=sys.intern(data["step"]),
            task_id=data["task_id"],
            attempt=int(data["attempt"]),
            status=data["status"],
            started_at=float(data["started_at"]),
            finished_at=float(data["finished_at"]),
            artifacts={k: ArtifactRef.from_dict(v) for k, v in data["artifacts"].items()},
            exception=_mapping_or_none(data.get("exception"), "exception"),
            extra=_mapping_or_none(data.get("extra"), "extra") or {},
        )


def _mapping_or_none(value: Any, name: str) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"'{name}' is {type(value).__name__}, not an object")
    return value


def write_record(blobs: BlobStore, record: AttemptRecord, *, overwrite: bool = False) -> bool:
    """Commit ``record`` in one atomic put; returns ``True``.

    A record is never written twice: if that attempt has one already (and
    ``overwrite`` is false), nothing is written and :class:`RecordExistsError`
    says so. Two runs can only meet in one folder if the metadata index handed
    out a run id the datastore had used already, and then the attempt must
    fail rather than build on the other run's records.
    """
    payload = record.to_json().encode()
    key = record.paths.record
    try:
        written = blobs.put_bytes(key, payload, overwrite=overwrite)
    except OSError as err:
        what = f"the record of task {record.paths.task_prefix} (attempt {record.attempt})"
        raise write_error(err, what, blobs.url(key), step=record.step) from None
    if not written:
        raise RecordExistsError(
            f"attempt {record.attempt} of task {record.paths.task_prefix} has a record "
            f"already ({blobs.url(key)}): another process wrote this attempt, so this one's "
            "result is not stored",
            step=record.step,
            fix="if another run shares this run id, the metadata index is out of step with "
            "the datastore: rebuild it with 'grange db rebuild', then run again",
        )
    return True


def read_record(
    blobs: BlobStore, flow: str, run_id: str, step: str, task_id: str, attempt: int
) -> AttemptRecord | None:
    """The committed record of that attempt, or ``None`` if it never finished."""
    key = TaskPaths(flow, run_id, step, task_id, attempt).record
    try:
        data = blobs.get_bytes(key)
    except BlobNotFound:
        return None
    try:
        record = AttemptRecord.from_json(data)
        found = (record.flow, record.run_id, record.step, record.task_id, record.attempt)
        if found != (flow, run_id, step, task_id, attempt):
            raise ValueError(f"it is the record of {'/'.join(map(str, found))}")
        if not isinstance(record.artifacts, dict):
            raise TypeError("'artifacts' is not an object")
        return record
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise DatastoreError(
            f"the record {key} in {blobs.describe()} is damaged ({type(err).__name__}: {err})",
            step=step,
            fix="move that attempt's folder away: the task then counts as not run, "
            "and resume runs it again",
        ) from None


def list_attempts(blobs: BlobStore, flow: str, run_id: str, step: str, task_id: str) -> list[int]:
    """Attempt numbers of the task that have a committed record, ascending."""
    prefix = TaskPaths(flow, run_id, step, task_id, 0).task_prefix
    found = set()
    for key in blobs.list(prefix):
        rest = key[len(prefix) + 1 :]
        attempt, _, name = rest.partition("/")
        if name == RECORD_NAME and attempt.isdigit():
            found.add(int(attempt))
    return sorted(found)


def latest_record(
    blobs: BlobStore, flow: str, run_id: str, step: str, task_id: str
) -> AttemptRecord | None:
    """The record of the task's highest committed attempt, or ``None``."""
    attempts = list_attempts(blobs, flow, run_id, step, task_id)
    if not attempts:
        return None
    return read_record(blobs, flow, run_id, step, task_id, attempts[-1])
