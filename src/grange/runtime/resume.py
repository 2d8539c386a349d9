"""``resume``: a new run that reuses, by reference, what the origin run already did.

A task of the new run is *cloned* instead of executed when its step is not
re-run, all its inputs were cloned too, and the origin run has a successful
task in the same place: same step, same branch/foreach positions, same loop
iteration, and a transition the step still declares (the flow file may have
changed since: a step inserted after it, a linear step made a foreach; such a
task runs again, and so does everything after it). Cloning writes a new
record pointing at the origin's artifacts; no artifact is copied. Without a
STEP, everything that succeeded is reused and the rest (the failed tasks and
what follows them) runs; with a STEP, that step and every step after it run
again. A run that succeeded is resumed too: every task is reused, so
``run; resume`` is always safe.

Which origin tasks succeeded is read from the datastore's committed records,
not from the index: a runtime killed just after a task committed may never
have indexed it, and that task is still reused. An origin run still running
(its runtime alive: :mod:`grange.metastore.liveness`) is refused unless
forced: its tasks would run twice.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from grange.datastore import AttemptRecord, write_record
from grange.datastore.records import RECORD_NAME
from grange.decorators.project import branch_options
from grange.exceptions import CommandError
from grange.graph import FlowGraph, NodeType, StepNode
from grange.runtime.parallel import whole_gangs
from grange.runtime.scheduler import Pending
from grange.task.execute import MAX_RECORDED_INPUTS
from grange.task.spec import Frame, TaskSpec
from grange.task.stores import PARAMETERS_STEP, PARAMETERS_TASK, MissingInputError, TaskStores

if TYPE_CHECKING:
    from grange.metastore import MetadataStore

Identity = tuple[str, tuple[int, ...], int]  # step, branch positions, loop iteration


@dataclass
class ClonePlan:
    """Which origin tasks a resumed run reuses; callable by the run loop."""

    stores: TaskStores
    origin_run_id: str
    rerun_steps: frozenset[str]
    origin_tasks: dict[Identity, AttemptRecord]
    graph: FlowGraph
    parameters: dict[str, Any] = field(default_factory=dict)
    failed_steps: frozenset[str] = frozenset()  # with a task whose every attempt failed
    _cloned: set[str] = field(default_factory=set)  # "step/task" of cloned tasks in the new run

    def __call__(self, pending: Pending, spec: TaskSpec) -> AttemptRecord | None:
        if pending.step in self.rerun_steps or any(p not in self._cloned for p in pending.inputs):
            return None
        identity = (pending.step, tuple(f.index for f in pending.frames), pending.iteration)
        origin = self.origin_tasks.get(identity)
        if origin is None or not _still_fits(self.graph[pending.step], origin):
            return None
        self._cloned.add(f"{spec.step}/{spec.task_id}")
        return self._copy(origin, spec)

    def steps_that_may_run(self) -> frozenset[str]:
        """The steps whose tasks may run again rather than be cloned (for what must be
        made ready for them, such as their environments): the steps resumed from, those
        the origin did not finish (no task, a failed one, one that no longer fits) and
        all that follow them. A step the origin left half done without any record
        (its tasks killed) looks finished here: the caller copes with that too."""
        done: set[str] = set()
        seeds = set(self.rerun_steps) | set(self.failed_steps)
        for (step, _frames, _iteration), record in self.origin_tasks.items():
            done.add(step)
            if not _still_fits(self.graph[step], record):
                seeds.add(step)
        seeds |= {step for step in self.graph.nodes if step not in done}
        out: set[str] = set()
        for step in seeds:
            out |= _downstream(self.graph, step)
        return frozenset(out)

    def clone_parameters(self, spec: TaskSpec) -> AttemptRecord:
        origin = self.stores.parameters_record(self.origin_run_id)
        return self._copy(origin, spec)

    def _copy(self, origin: AttemptRecord, spec: TaskSpec) -> AttemptRecord:
        extra = dict(origin.extra)
        extra["frames"] = [f.to_list() for f in spec.frames]
        extra["origin"] = f"{origin.flow}/{origin.run_id}/{origin.step}/{origin.task_id}"
        extra.pop("inputs", None)  # the origin's parents; this clone's are in this run
        if len(spec.input_paths) <= MAX_RECORDED_INPUTS:
            extra["inputs"] = list(spec.input_paths)
        record = AttemptRecord(
            flow=spec.flow,
            run_id=spec.run_id,
            step=spec.step,
            task_id=spec.task_id,
            attempt=0,
            status="ok",
            started_at=origin.started_at,
            finished_at=origin.finished_at,
            artifacts=dict(origin.artifacts),
            exception=None,
            extra=extra,
        )
        write_record(self.stores.blobs, record)
        return record


def plan_resume(
    graph: FlowGraph,
    metadata: MetadataStore,
    stores: TaskStores,
    *,
    flow: str,
    user: str,
    origin_run_id: str | None,
    step: str | None,
    force: bool = False,
    branch_tag: str | None = None,
) -> ClonePlan:
    """Find the origin run and its reusable tasks; check the STEP to resume from.

    ``branch_tag`` (``project_branch:<branch>``, a ``@project`` flow): the origin
    (the user's latest run, or ``origin_run_id``) must belong to that branch: a
    resumed run reuses its origin's artifacts, and branches never mix.
    """
    # Imported here, not at the top: the runtime imports this module before its fork
    # server starts, which must not hold the metadata layer (see runtime/run.py).
    from grange.metastore.status import CLUSTER_RUNTIMES
    from grange.reindex import index_if_ended

    origin = _origin_run(metadata, flow, user, origin_run_id, branch_tag)
    # Indexed while it ran on a cluster (a client read then): its end, if it has one,
    # is only in the datastore (run-final.json).
    if (
        origin.status == "running"
        and origin.runtime in CLUSTER_RUNTIMES
        and index_if_ended(stores.blobs, metadata, flow, origin.run_id).ended
    ):
        origin = metadata.get_run(flow, origin.run_id) or origin
    if origin.status == "running" and not force:  # its runtime is alive: see liveness
        raise CommandError(
            f"run {flow}/{origin.run_id} is still running{_where(origin)}: resuming it now "
            "would run its tasks a second time",
            fix="wait for it to end, or stop it (Ctrl-C, or kill its runtime) first; "
            "--force resumes it anyway",
        )
    if step is not None and step not in graph:
        close = difflib.get_close_matches(step, list(graph.nodes), n=1)
        raise CommandError(
            f"'{step}' is not a step of {flow}",
            step=step,
            fix=f"did you mean '{close[0]}'?" if close else f"steps: {', '.join(graph.nodes)}",
        )
    committed = committed_tasks(stores, flow, origin.run_id)
    if (PARAMETERS_STEP, PARAMETERS_TASK) not in committed:
        raise CommandError(
            f"run {flow}/{origin.run_id} cannot be resumed: its files are not in the "
            f"{stores.blobs.describe()} (its folder {flow}/{origin.run_id} was deleted, or "
            "the run was stopped before it stored anything)",
            fix="start a new run with: python <flow file> run, or resume another run "
            "with --origin-run-id",
        )
    rerun = _downstream(graph, step) if step else frozenset()
    tasks: dict[Identity, AttemptRecord] = {}
    failed: set[str] = set()
    for task_step, task_id in committed:
        if task_step == PARAMETERS_STEP or task_step not in graph:
            continue
        try:
            record = stores.final_record(flow, origin.run_id, task_step, task_id)
        except MissingInputError:
            failed.add(task_step)
            continue  # every attempt failed
        frames = tuple(Frame.from_list(f) for f in record.extra.get("frames", ()))
        identity = (
            task_step,
            tuple(f.index for f in frames),
            int(record.extra.get("iteration", 0)),
        )
        tasks[identity] = record
    tasks = whole_gangs(graph, tasks)  # a gang that failed runs again, all of it
    return ClonePlan(
        stores,
        origin.run_id,
        rerun,
        tasks,
        graph,
        parameters=dict(origin.parameters),
        failed_steps=frozenset(failed),
    )


def committed_tasks(stores: TaskStores, flow: str, run_id: str) -> list[tuple[str, str]]:
    """``(step, task id)`` of every task of the run with a committed record, in the
    datastore: the truth, whether or not the index ever saw them."""
    prefix = f"{flow}/{run_id}/"
    found: set[tuple[str, str]] = set()
    for key in stores.blobs.list(prefix.rstrip("/")):
        parts = key[len(prefix) :].split("/")
        if len(parts) == 4 and parts[3] == RECORD_NAME and parts[2].isdigit():
            found.add((parts[0], parts[1]))
    return sorted(found)


def _where(origin: Any) -> str:
    """`` (its runtime is process N on host H)`` when the index knows it."""
    if origin.runtime_pid is None or origin.runtime_host is None:
        return ""
    return f" (its runtime is process {origin.runtime_pid} on {origin.runtime_host.split(':')[0]})"


def _still_fits(node: StepNode, origin: AttemptRecord) -> bool:
    """Whether the origin task's transition is one the step declares now."""
    taken = tuple(origin.extra.get("next", ()))
    foreach = bool(origin.extra.get("foreach"))
    if node.type is NodeType.END:
        return not taken and not foreach
    if node.is_switch:
        return len(taken) == 1 and taken[0] in node.switch_cases.values() and not foreach
    if isinstance(node.num_parallel, int) and origin.extra.get("parallel") != node.num_parallel:
        return False  # the gang's size changed in the flow file: start it again
    return taken == tuple(node.out_funcs) and foreach == node.is_fanout


def _origin_run(
    metadata: MetadataStore,
    flow: str,
    user: str,
    origin_run_id: str | None,
    branch_tag: str | None,
) -> Any:
    explicit = origin_run_id is not None
    if origin_run_id is not None:
        run = metadata.get_run(flow, origin_run_id)
        if run is None:
            raise CommandError(
                f"flow {flow} has no run '{origin_run_id}'",
                fix=f"list runs with: grange runs {flow}",
            )
    else:
        runs = metadata.list_runs(flow, tags=[f"user:{user}"], limit=1)
        if not runs:
            raise CommandError(
                f"flow {flow} has no run by user '{user}' to resume",
                fix="start one with: python <flow file> run, or pass --origin-run-id",
            )
        run = runs[0]
    if branch_tag is not None:
        _check_branch(metadata, flow, run.run_id, branch_tag, user=user, explicit=explicit)
    return run


def _options_text(branch: str) -> str:
    return " ".join(branch_options(branch)) or "without --branch or --production"


def _check_branch(
    metadata: MetadataStore, flow: str, run_id: str, branch_tag: str, *, user: str, explicit: bool
) -> None:
    """The origin run belongs to the branch being resumed on (``project_branch:<b>``).

    Without ``--origin-run-id`` the origin is the user's latest run, as
    everywhere else; when that run is another branch's, the fix names the
    user's latest run of this branch rather than resuming it silently.
    """
    tags = metadata.run_tags(flow, run_id).all
    theirs = sorted(t.partition(":")[2] for t in tags if t.startswith("project_branch:"))
    ours = branch_tag.partition(":")[2]
    if theirs == [ours]:
        return
    was = f"branch {theirs[0]}" if theirs else "no @project branch"
    what = f"run {flow}/{run_id}" if explicit else f"your latest run, {flow}/{run_id},"
    # Another user's sandbox (user.<them>) is no branch this user can choose.
    own = bool(theirs) and (not theirs[0].startswith("user.") or theirs[0] == f"user.{user}")
    fixes = [f"resume it on its own branch ({_options_text(theirs[0])})"] if own else []
    same = metadata.list_runs(flow, tags=[f"user:{user}", branch_tag], limit=1)
    if same:
        fixes.append(f"resume your latest run of branch {ours}: --origin-run-id {same[0].run_id}")
    else:
        fixes.append(f"start a run on branch {ours} first")
    raise CommandError(
        f"{what} belongs to {was}, and this resume is on branch {ours}: a resumed run "
        "reuses its origin's artifacts, and branches never mix",
        fix="; or ".join(fixes),
    )


def _downstream(graph: FlowGraph, step: str) -> frozenset[str]:
    seen = {step}
    todo = [step]
    while todo:
        for nxt in graph[todo.pop()].out_funcs:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return frozenset(seen)
