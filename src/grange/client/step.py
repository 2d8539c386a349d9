"""``Step("Flow/run/step")``: the tasks one step of a run executed.

The edges between steps are read from the run itself (each task records the
tasks whose outputs it read), so ``parent_steps`` and ``child_steps`` list the
steps that actually ran before and after this one: a switch branch that was
not taken does not appear.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from grange.client.base import ClientObject
from grange.client.sync import index_if_stored
from grange.current import current
from grange.datastore import latest_record
from grange.metastore import StepRow, TaskRow

if TYPE_CHECKING:
    from grange.client.run import EnvironmentInfo, Run
    from grange.client.task import Task

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, Any], ...]:
    """Sort key putting task ``2`` before task ``10``."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in _DIGITS.split(text) if p)


def run_tasks(obj: ClientObject) -> list[TaskRow]:
    """Every task of the run ``obj`` belongs to."""
    flow, run_id = obj.path_components[:2]
    return obj._stores.metadata.list_tasks(flow, run_id)


def step_of(pathspec: str) -> str:
    """The step name in a ``Flow/run/step/task`` pathspec."""
    return pathspec.split("/")[2]


class Step(ClientObject):
    """One step of a run; iteration yields its tasks in task id order."""

    _KIND = "step"
    _DEPTH = 3
    _CHILD = "task"
    _PARENT = "run"

    _row: StepRow

    def _fetch(self) -> StepRow:
        flow, run_id, name = self._components
        rows = self._stores.metadata.list_steps(flow, run_id)
        for row in rows:
            if row.step == name:
                return row
        running = current._task  # a step looking at itself before the runtime indexed it
        if running is not None and current.pathspec == f"{self.pathspec}/{running.task_id}":
            return StepRow(flow, run_id, name, created_at=time.time())
        if index_if_stored(self._stores, flow, run_id):  # a run that wrote only records
            return self._fetch()
        self.parent  # noqa: B018 - raises ObjectNotFound when the run itself is missing
        raise self._not_found("step", [r.step for r in rows if not r.step.startswith("_")])

    def _task_rows(self) -> list[TaskRow]:
        flow, run_id, name = self._components
        rows = self._stores.metadata.list_tasks(flow, run_id, step=name)
        running = current._task
        if running is not None and current.pathspec == f"{self.pathspec}/{running.task_id}":
            from grange.client.task import running_task_row

            if all(row.task_id != running.task_id for row in rows):
                row = running_task_row(str(current.pathspec))
                rows = [*rows, *([row] if row is not None else [])]
        return sorted(rows, key=lambda row: natural_key(row.task_id))

    def _children(self) -> list[ClientObject]:
        from grange.client.task import Task

        return [self._adopt(Task, row.task_id, row) for row in self._task_rows()]

    def _visible(self, child: ClientObject) -> bool:
        return True

    def __getitem__(self, task_id: str) -> Task:
        task: Task = self._child(task_id)
        return task

    def __iter__(self) -> Iterator[Task]:
        return super().__iter__()

    @property
    def parent(self) -> Run:
        run: Run = super().parent  # type: ignore[assignment]
        return run

    @property
    def task(self) -> Task | None:
        """One task of the step (the first by id): THE task of a step outside a foreach."""
        return next(iter(self), None)

    @property
    def environment_info(self) -> EnvironmentInfo | None:
        """The step's ``@pypi``/``@conda`` environment (as Metaflow's): the lock's summary
        (packages with versions and sha256, python, platform) and ``"lock"``, the lock
        file's text, in a plain dict; ``None`` for a step run in the runtime's own
        Python. A task ``resume`` reused may have run in another: see
        :attr:`Task.environment_info`."""
        return self.parent.environment.get(self._components[2])

    def tasks(self, *tags: str) -> Iterator[Task]:
        """The step's tasks (tags, as in Metaflow, filter on the run's tags)."""
        return self._filtered(tags)

    def control_tasks(self, *tags: str) -> Iterator[Task]:
        """The control task (node 0) of each ``@parallel`` gang of this step; nothing
        for a step that is not ``@parallel``."""
        gang_splits: dict[tuple[str, str], bool] = {}
        for task in self.tasks(*tags):
            stack = task._row.foreach_stack
            if not stack or int(stack[-1][2]) != 0:
                continue
            split = (str(stack[-1][0]), str(stack[-1][1]))
            if split not in gang_splits:
                flow, run_id, _ = self._components
                record = latest_record(self._stores.blobs, flow, run_id, *split)
                gang_splits[split] = bool(record is not None and record.extra.get("parallel"))
            if gang_splits[split]:
                yield task

    @property
    def control_task(self) -> Task | None:
        """The control task of the step's ``@parallel`` gang, or ``None``."""
        return next(self.control_tasks(), None)

    @property
    def finished_at(self) -> datetime | None:
        """When the step's last task finished; ``None`` while any task has not."""
        times = [task.finished_at for task in self]
        if not times or any(t is None for t in times):
            return None
        return max(t for t in times if t is not None)

    @property
    def parent_steps(self) -> Iterator[Step]:
        """The steps whose tasks this step's tasks read from."""
        mine = [row for row in run_tasks(self) if row.step == self.id]
        names: dict[str, None] = {}
        for row in mine:
            for parent in row.parent_task_ids:
                names.setdefault(step_of(parent), None)
        return self._siblings(names)

    @property
    def child_steps(self) -> Iterator[Step]:
        """The steps whose tasks read from this step's tasks."""
        prefix = f"{self.pathspec}/"
        names: dict[str, None] = {}
        for row in run_tasks(self):
            if any(p.startswith(prefix) for p in row.parent_task_ids):
                names.setdefault(row.step, None)
        return self._siblings(names)

    def _siblings(self, names: dict[str, None]) -> Iterator[Step]:
        run = self.parent
        return iter([run._child(n, check=False) for n in names if not n.startswith("_")])
