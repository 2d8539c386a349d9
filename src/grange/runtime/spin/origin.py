"""Which task of an earlier run ``spin`` re-runs, and whether the flow can still take its inputs.

Read through the client, from the original run's index: the task (given, else
the step's first failed task, else its first), the tasks whose outputs it read
(its parents), its foreach frames. Then the step as the flow file defines it
*now* is compared with what it was: spin feeds the step the inputs the run
recorded, so the step must still follow the same steps the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grange.datastore import latest_record
from grange.exceptions import CommandError, ObjectNotFound
from grange.graph import FlowGraph, NodeType
from grange.task.spec import Frame

if TYPE_CHECKING:
    from grange.client import Run, Task

#: Earlier runs looked at for a hint when the chosen run did not run the step.
HINT_RUNS = 20


@dataclass(frozen=True)
class OriginTask:
    """The task of the original run that a spin re-runs, with what it read."""

    flow: str
    run_id: str
    step: str
    task_id: str
    parents: tuple[str, ...]  # "run/step/task" of each parent, in the order it read them
    frames: tuple[Frame, ...]
    iteration: int
    status: str  # how the original attempt ended: ok, failed, running...
    siblings: int  # tasks of the step in that run (a foreach: more than one)
    foreach_index: int | None

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"

    @property
    def path(self) -> str:
        """``run/step/task``, as typed after ``spin``."""
        return f"{self.run_id}/{self.step}/{self.task_id}"


def origin_task(
    run: Run, step: str, task_id: str | None, *, command: str, run_command: str
) -> OriginTask:
    """The task ``task_id`` of ``step`` in ``run``; without one, the step's first failed task
    (what an edit-and-retry loop is after), else its first. ``command`` and ``run_command``
    are how the user types ``spin`` and ``run`` (``python flow.py spin``), for the fixes."""
    flow, run_id = run.pathspec.split("/")
    steps = [s.id for s in run]
    if step not in steps:
        raise _step_not_run(run, step, steps, command, run_command)
    tasks = list(run[step])
    if not tasks:
        raise _step_not_run(run, step, steps, command, run_command)
    if task_id is None:
        # A run that succeeded has no failed task: no need to look at each one's attempts.
        failed = () if run.successful else (t for t in tasks if t.finished and not t.successful)
        task = next(iter(failed), tasks[0])
    else:
        found = [t for t in tasks if t.id == task_id]
        if not found:
            shown = ", ".join(t.id for t in tasks[:10]) + (", ..." if len(tasks) > 10 else "")
            raise CommandError(
                f"run {flow}/{run_id} has no task {task_id} of step '{step}'",
                step=step,
                fix=f"its tasks are {shown}: {command} {run_id}/{step}/{tasks[0].id}",
            )
        task = found[0]
    return _origin_of(task, len(tasks), flow, run_id, step)


def _origin_of(task: Task, siblings: int, flow: str, run_id: str, step: str) -> OriginTask:
    row = task._row
    parents = tuple(p.split("/", 1)[1] for p in row.parent_task_ids)
    frames = tuple(Frame.from_list(f) for f in row.foreach_stack or ())
    record = latest_record(task._stores.blobs, flow, run_id, step, task.id)
    iteration = int(record.extra.get("iteration", 0)) if record is not None else 0
    status = record.status if record is not None else ("failed" if task.finished else "running")
    return OriginTask(
        flow=flow,
        run_id=run_id,
        step=step,
        task_id=task.id,
        parents=parents,
        frames=frames,
        iteration=iteration,
        status=status,
        siblings=siblings,
        foreach_index=task.index,
    )


def _step_not_run(
    run: Run, step: str, steps: list[str], command: str, run_command: str
) -> CommandError:
    flow, run_id = run.pathspec.split("/")
    ran = [s for s in steps if not s.startswith("_")]
    how = f"it {'failed' if run.finished and not run.successful else 'is running'}"
    state = f"{how}; the steps it ran: {', '.join(ran)}" if ran else f"{how} before any step"
    others = _runs_that_ran(run, step)
    fix = (
        f"spin it in a run that ran it: {command} {others[0]}/{step}"
        + (f" (runs that did: {', '.join(others)})" if len(others) > 1 else "")
        if others
        else f"no recent run ran it: run the flow first ({run_command})"
    )
    return CommandError(
        f"run {flow}/{run_id} did not run step '{step}' ({state})", step=step, fix=fix
    )


def _runs_that_ran(run: Run, step: str) -> list[str]:
    found = []
    for other in list(run.parent.runs())[:HINT_RUNS]:
        try:
            if other.id != run.id and other[step].task is not None:
                found.append(other.id)
        except ObjectNotFound:
            continue
    return found[:5]


def check_inputs(
    origin: OriginTask, graph: FlowGraph, flow_file: str, recorded_graph: dict[str, Any] | None
) -> None:
    """The step, as the flow file defines it now, takes the inputs the run recorded.

    Spin gives the step its parents' artifacts as they were: the step must still come
    after the same steps and be a join (or not) as it was. Anything else is said, with
    the way out (a new run records new inputs). ``recorded_graph`` is the graph the run
    recorded when it started (``Run.graph``), ``None`` for a run from before.
    """
    node = graph[origin.step]
    recorded = sorted({p.split("/")[1] for p in origin.parents})
    now = [] if node.type is NodeType.START else sorted(set(node.in_funcs))
    fix = "run the flow again (or resume it): spin re-runs a step with the inputs a run recorded"
    where: dict[str, Any] = {"file": flow_file, "line": node.line, "step": origin.step}
    if not set(recorded) <= set(now) or (now and not recorded):
        was = ", ".join(recorded) or "no step (it was the start step)"
        is_ = ", ".join(now) or "no step (it is the start step now)"
        raise CommandError(
            f"step '{origin.step}' comes after other steps in the flow file than in run "
            f"{origin.flow}/{origin.run_id}: after {was} then, after {is_} now",
            fix=fix,
            **where,
        )
    old = (recorded_graph or {}).get("steps", {}) if recorded_graph else {}
    old_node = old.get(origin.step) if isinstance(old, dict) else None
    was_join = (
        old_node.get("type") == NodeType.JOIN.value
        if isinstance(old_node, dict)
        else len(origin.parents) > 1
    )
    if node.is_join != was_join:
        kind = "a join (it takes inputs)" if node.is_join else "not a join"
        raise CommandError(
            f"step '{origin.step}' is {kind} in the flow file now, but was "
            f"{'not ' if node.is_join else ''}one in run {origin.flow}/{origin.run_id}",
            fix=fix,
            **where,
        )
