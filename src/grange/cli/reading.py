"""What the commands that read runs share (``dump``, ``logs``, ``tag``, ``grange runs``).

They read through the client API (:mod:`grange.client`), pointed at the store
the command line chose: ``--datastore-root`` / ``GRANGE_DATASTORE_ROOT``, else
the profile's root, else the nearest ``.grange/``; ``--metadata`` /
``GRANGE_METADATA``, else the profile's, else SQLite under that root (the same
rules as ``run``).
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from typing import TYPE_CHECKING

from grange.cli.context import Settings
from grange.cli.runtime_options import datastore_root, effective, metadata_url
from grange.exceptions import CommandError, NamespaceMismatch

if TYPE_CHECKING:
    from grange.client import Run, Task


def connect(settings: Settings, *, every_namespace: bool = False) -> None:
    """Point the client at the command line's store and set its namespace.

    The namespace is every run's with ``every_namespace``, else the top-level
    ``--namespace``, else the default one (``user:<you>``).
    """
    from grange.client import default_namespace, namespace
    from grange.client.config import use_stores

    root = datastore_root(settings)
    use_stores(root, metadata_url(settings))
    # The profile chosen on the command line is this process's: the S3 settings of
    # its datastore, checks made by the client.
    os.environ.update(effective(settings).child_env())
    if every_namespace:
        namespace(None)
    elif settings.namespace:
        namespace(settings.namespace)
    else:
        default_namespace()


def parse_task_path(flow: str, text: str) -> tuple[str, str, str | None]:
    """``RUN/STEP`` or ``RUN/STEP/TASK`` (optionally after ``FLOW/``) as its parts."""
    parts = text.strip("/").split("/")
    if len(parts) in (3, 4) and parts[0] == flow:
        parts = parts[1:]
    elif len(parts) == 4 or (len(parts) == 3 and _looks_like_flow(parts[0])):
        raise CommandError(
            f"{text} is a path in flow {parts[0]}, but this command reads flow {flow}",
            fix=f"run the command on the file of flow {parts[0]}, with the path "
            f"{'/'.join(parts[1:])}",
        )
    if len(parts) not in (2, 3) or not all(parts):
        raise CommandError(
            f"expected RUN/STEP or RUN/STEP/TASK, not {text!r}",
            fix="e.g. 3/start for every task of step 'start' of run 3, or 3/train/4 for one task",
        )
    run_id, step = parts[0], parts[1]
    return run_id, step, parts[2] if len(parts) == 3 else None


def _looks_like_flow(part: str) -> bool:
    """A flow's name (a Python class name, capitalised), not a run id."""
    return part.isidentifier() and part[:1].isupper()


def tasks_at(flow: str, text: str, *, attempt: int | None = None) -> list[Task]:
    """The task ``text`` names, or every task of the step it names, in task id order."""
    from grange.client import Step, Task

    run_id, step, task_id = parse_task_path(flow, text)
    if task_id is not None:
        return [Task(f"{flow}/{run_id}/{step}/{task_id}", attempt)]
    tasks = list(Step(f"{flow}/{run_id}/{step}"))
    if attempt is None:
        return tasks
    pinned = [Task(t.pathspec, attempt) for t in tasks if attempt <= t.current_attempt]
    if not pinned:
        raise CommandError(
            f"no task of {flow}/{run_id}/{step} has an attempt {attempt}",
            fix="leave out --attempt to see each task's latest attempt",
        )
    return pinned


def find_run(flow: str, run_id: str | None, command: str) -> Run:
    """Run ``run_id`` of ``flow``, or its latest run, in the client's namespace.

    ``command`` is how to run the command with another namespace, with
    ``NAMESPACE`` where it goes (for the fix of a :class:`NamespaceMismatch`).
    """
    from grange.client import Flow, Run, get_namespace
    from grange.exceptions import ObjectNotFound

    ns = get_namespace()
    try:
        if run_id is not None:
            return Run(f"{flow}/{run_id}")
        latest = Flow(flow).latest_run
    except NamespaceMismatch as err:
        anyone = Flow(flow, _namespace_check=False, _namespace=None)
        run = anyone[run_id] if run_id is not None else anyone.latest_run
        tags = run.system_tags if run is not None else frozenset()
        owner = min((t for t in tags if t.startswith("user:")), default="user:NAME")
        what = f"run {flow}/{run_id} is not" if run_id is not None else f"flow {flow} has no run"
        raise NamespaceMismatch(
            f"{what} in namespace '{ns}'",
            pathspec=err.pathspec,
            namespace=ns,
            fix=f"choose its namespace: {command.replace('NAMESPACE', owner)}",
        ) from None
    if latest is None:
        raise ObjectNotFound(f"flow {flow} has no run in namespace '{ns}'", pathspec=flow)
    return latest


def when(moment: datetime | None) -> str:
    """A local time to the second, or ``-``."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "-"


def duration(start: datetime | None, end: datetime | None) -> str:
    """``0.07s``, ``3m12s``, ``2h05m``; from ``start`` to now while ``end`` is ``None``."""
    if start is None:
        return "-"
    seconds = (end.timestamp() if end is not None else time.time()) - start.timestamp()
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def table(rows: list[list[str]]) -> str:
    """Rows of cells as left-aligned columns (the first row is the header)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)
