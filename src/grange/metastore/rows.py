"""Typed rows of the metadata index: what the store takes in and gives back.

Every row is a frozen dataclass. Times are POSIX timestamps (seconds since the
epoch, UTC, as ``time.time()`` returns them); the client turns them into
datetimes. Identifiers are strings: run ids allocated by the store are decimal
integers written as text, task ids are chosen by the caller.

Keys: a task is named by ``(flow, run_id, step, task_id)`` and an attempt by
that plus ``attempt``; :class:`TaskKey` and :class:`AttemptKey` carry them, and
the :class:`TaskRef` / :class:`AttemptRef` protocols let any row with those
attributes (a :class:`TaskRow`, an :class:`AttemptRow`) stand for its key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from grange.metastore.status import FINISHED_RUN_STATUSES, SUCCESSFUL_ATTEMPT_STATUSES


class TaskRef(Protocol):
    """Anything that names a task: a :class:`TaskKey`, :class:`TaskRow`, ..."""

    @property
    def flow(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def step(self) -> str: ...
    @property
    def task_id(self) -> str: ...


class AttemptRef(TaskRef, Protocol):
    """Anything that names one attempt of a task."""

    @property
    def attempt(self) -> int: ...


@dataclass(frozen=True)
class TaskKey:
    """The full name of a task; ``pathspec`` is ``Flow/run/step/task``."""

    flow: str
    run_id: str
    step: str
    task_id: str

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"


@dataclass(frozen=True)
class AttemptKey:
    """The full name of one attempt of a task."""

    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int


@dataclass(frozen=True)
class FlowRow:
    """A flow known to the store (it has had at least one run registered)."""

    name: str
    created_at: float


@dataclass(frozen=True)
class RunTags:
    """The tags of a run: ``user`` tags can change, ``system`` tags never do."""

    user: frozenset[str] = frozenset()
    system: frozenset[str] = frozenset()

    @property
    def all(self) -> frozenset[str]:
        return self.user | self.system


@dataclass(frozen=True)
class RunRow:
    """A run as every read reports it.

    ``status`` is the *reported* status: a run stored as ``running`` whose
    runtime process is gone (on its host) or whose last heartbeat is older than
    the store's ``stale_after`` (elsewhere) reads as ``crashed``, with
    ``finished_at`` set to that last heartbeat. ``number`` is the per-flow
    sequence number that orders runs (newest has the highest).
    """

    flow: str
    run_id: str
    number: int
    user: str
    status: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    heartbeat_at: float | None
    origin_run_id: str | None
    runtime: str
    parameters: Mapping[str, Any]
    tags: RunTags
    runtime_host: str | None = None  # the process that runs it (metastore.liveness)
    runtime_pid: int | None = None

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}"

    @property
    def finished(self) -> bool:
        """True once the run succeeded, failed or crashed.

        Unlike Metaflow, where ``finished`` depends on the ``end`` task and a
        run that failed earlier is never finished, a failed or crashed run is
        finished here: nothing more will happen to it unless it is resumed
        (which makes a new run).
        """
        return self.status in FINISHED_RUN_STATUSES

    @property
    def successful(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True)
class StepRow:
    """A step of a run that has had at least one task registered."""

    flow: str
    run_id: str
    step: str
    created_at: float


@dataclass(frozen=True)
class TaskRow:
    """A task; ``status`` mirrors its latest attempt (``pending`` before any).

    ``foreach_stack`` is the caller's JSON description of the enclosing
    foreach splits; ``parent_task_ids`` are the pathspecs of the tasks whose
    outputs it read; ``origin_task`` is the pathspec of the task it was cloned
    from when ``resume`` reused a past result.
    """

    flow: str
    run_id: str
    step: str
    task_id: str
    created_at: float | None = None
    status: str = "pending"
    foreach_stack: Sequence[Any] = ()
    parent_task_ids: Sequence[str] = ()
    origin_task: str | None = None

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"

    @property
    def key(self) -> TaskKey:
        return TaskKey(self.flow, self.run_id, self.step, self.task_id)


@dataclass(frozen=True)
class AttemptRow:
    """One attempt of a task (attempts count from 0; a retry is a new attempt).

    ``status`` is ``running`` until the attempt ends as ``ok``, ``failed`` or
    ``caught`` (it raised, and ``@catch`` kept the task going), or ``crashed``
    when the runtime saw its worker die; reads report a ``running`` attempt
    of a run that is no longer running as ``crashed``. ``exception`` is a JSON
    description of what was raised.
    """

    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    started_at: float | None = None
    finished_at: float | None = None
    status: str = "running"
    exit_code: int | None = None
    exception: Mapping[str, Any] | None = None
    heartbeat_at: float | None = None

    @property
    def successful(self) -> bool:
        return self.status in SUCCESSFUL_ATTEMPT_STATUSES

    @property
    def key(self) -> AttemptKey:
        return AttemptKey(self.flow, self.run_id, self.step, self.task_id, self.attempt)


@dataclass(frozen=True)
class ArtifactRow:
    """An artifact of an attempt: its ``name`` and where its bytes are.

    ``key`` names the blob in the datastore; the metadata layer never reads it.
    """

    name: str
    key: str
    size: int
    type: str
    encoding: str


@dataclass(frozen=True)
class MetadataRow:
    """One named value recorded for an attempt (``python_version``, ...)."""

    name: str
    value: str
    attempt: int
    created_at: float


@dataclass(frozen=True)
class AttemptRecord:
    """The end of an attempt as :meth:`MetadataStore.record_attempts` takes it.

    The attempt row (with its final ``status``), the artifacts it produced and
    any metadata values, all made visible together in one transaction.
    """

    attempt: AttemptRow
    artifacts: Sequence[ArtifactRow] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)


_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, Any], ...]:
    """Sort key putting ``task 2`` before ``task 10``."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in _DIGITS.split(text) if p)
