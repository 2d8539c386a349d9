"""Helpers of the decorator tests (tests/integration/test_decorators_*.py)."""

from __future__ import annotations

import re
from pathlib import Path

from grange.metastore import AttemptRow, MetadataStore
from support import FLOWS, Runner

DECORATOR_FLOWS = FLOWS / "decorators"
COURSE_FLOWS = FLOWS / "course"


def flow(name: str) -> Path:
    """The flow file tests/flows/decorators/NAME.py."""
    return DECORATOR_FLOWS / f"{name}.py"


def attempts(runner: Runner, pathspec: str) -> list[AttemptRow]:
    """Every attempt of the task at ``pathspec`` as the metadata index holds it, in order."""
    store = MetadataStore.from_url(runner.metadata_url())
    flow_name, run_id, step, task_id = pathspec.split("/")
    task = store.get_task(flow_name, run_id, step=step, task_id=task_id)
    assert task is not None, pathspec
    return store.list_attempts(task)


def statuses(runner: Runner, pathspec: str) -> list[str]:
    return [row.status for row in attempts(runner, pathspec)]


def summary_of(stdout: str) -> str:
    """The lines printed from the end-of-run summary on."""
    marker = re.search(r"^Run \S+ (succeeded|FAILED)", stdout, re.M)
    assert marker, stdout
    return stdout[marker.start() :]


def intervals(markers: Path) -> dict[int, tuple[float, float]]:
    """``start-<i>``/``end-<i>`` marker files written by tasks: each task's time span."""
    spans = {}
    for start in markers.glob("start-*"):
        index = int(start.name.split("-")[1])
        end = markers / f"end-{index}"
        spans[index] = (float(start.read_text()), float(end.read_text()))
    return spans


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def no_traceback(text: str) -> bool:
    return "Traceback" not in text and 'File "' not in text
