"""Statuses of runs, tasks and attempts, and how reads derive ``crashed``.

A run is *stored* as ``running`` until its runtime calls ``finish_run`` with
``succeeded`` or ``failed``. A runtime killed with ``kill -9`` (or a laptop
that lost power) never does, so every read *reports* a run stored as
``running`` as ``crashed`` when its runtime is gone:

- on the host that runs it, at once: the runtime's process (host id, pid,
  start time; see :mod:`grange.metastore.liveness`) no longer exists;
- elsewhere, or where the process cannot be checked, when its last sign of
  life (the last heartbeat, else its start) is older than ``stale_after``
  seconds (the heartbeat window, ``GRANGE_HEARTBEAT_WINDOW``).

Nothing is written: a runtime that comes back and heartbeats again (a
suspended laptop, another host's view) makes the run read as ``running``.

``finished`` means "nothing more will happen to it": a run is finished when it
succeeded, failed or crashed. (Metaflow derives ``finished`` from the ``end``
task, so a run that failed before ``end`` is never finished — its issue #1104;
grange does not copy that.)

Attempts and tasks follow their run: an attempt or task stored as ``running``
reads as ``crashed`` once its run no longer reads as ``running`` (it crashed,
or it ended without recording the attempt). An attempt's own ``heartbeat_at``
is recorded and shown but does not decide its status: the runtime that runs
an attempt heartbeats the run, and records ``failed`` or ``crashed`` itself
when it sees a worker die. A task's status is the status of its latest
attempt, ``pending`` before its first.
"""

from __future__ import annotations

from typing import Final

from grange.exceptions import MetadataError

DEFAULT_STALE_AFTER: Final = 60.0
"""Seconds without a heartbeat after which a running run reads as crashed, where
its runtime's process cannot be checked (another host); ``GRANGE_HEARTBEAT_WINDOW``."""

RUNNING: Final = "running"
SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
CRASHED: Final = "crashed"
PENDING: Final = "pending"

RUN_STATUSES: Final = frozenset({RUNNING, SUCCEEDED, FAILED, CRASHED})
"""What a read may report for a run."""

FINAL_RUN_STATUSES: Final = frozenset({SUCCEEDED, FAILED})
"""What ``finish_run`` accepts."""

FINISHED_RUN_STATUSES: Final = frozenset({SUCCEEDED, FAILED, CRASHED})

CLUSTER_RUNTIMES: Final = frozenset({"argo"})
"""Runtimes with no local process and no heartbeat (a workflow on a cluster): such a
run reads ``running`` until its end is recorded (``run-final.json``, written by its
``end`` task or the workflow's exit handler). Readers refresh its tasks from the
datastore instead (:func:`grange.reindex.index_ended_runs`)."""

ATTEMPT_STATUSES: Final = frozenset({RUNNING, "ok", FAILED, "caught", CRASHED})
"""What may be recorded for an attempt (``crashed``: the runtime saw it die)."""

SUCCESSFUL_ATTEMPT_STATUSES: Final = frozenset({"ok", "caught"})

TASK_STATUSES: Final = ATTEMPT_STATUSES | {PENDING}


def is_stale(last_seen: float | None, *, now: float, stale_after: float) -> bool:
    """True when ``last_seen`` is older than ``stale_after`` seconds (or unknown)."""
    return last_seen is None or now - last_seen > stale_after


def reported_run_status(
    stored: str,
    last_seen: float | None,
    *,
    now: float,
    stale_after: float,
    alive: bool | None = None,
) -> str:
    """The status a read reports for a run stored as ``stored``.

    ``alive``: whether its runtime process exists, when this host can tell
    (:func:`grange.metastore.liveness.is_alive`); None falls back to the heartbeat.
    """
    if stored != RUNNING:
        return stored
    if alive is not None:
        return RUNNING if alive else CRASHED
    return CRASHED if is_stale(last_seen, now=now, stale_after=stale_after) else RUNNING


def reported_attempt_status(stored: str, *, run_status: str) -> str:
    """The status a read reports for an attempt or a task of a run.

    ``run_status`` is the run's *reported* status (see :func:`reported_run_status`).
    """
    if stored == RUNNING and run_status != RUNNING:
        return CRASHED
    return stored


def check_final_run_status(status: str) -> str:
    """``status`` if ``finish_run`` may set it, else a :class:`MetadataError`."""
    if status not in FINAL_RUN_STATUSES:
        raise MetadataError(
            f"a run cannot finish with status {status!r}",
            fix=f"use one of {sorted(FINAL_RUN_STATUSES)}",
        )
    return status


def check_attempt_status(status: str) -> str:
    """``status`` if an attempt may be recorded with it, else a :class:`MetadataError`."""
    if status not in ATTEMPT_STATUSES:
        raise MetadataError(
            f"an attempt cannot be recorded with status {status!r}",
            fix=f"use one of {sorted(ATTEMPT_STATUSES)}",
        )
    return status
