"""One task of an Argo workflow, resolved from the graph and its parents' records.

On Argo no runtime hands a task its parents' ids, its split frames or a task
id: Argo passes each container only its foreach index path (``--argo-index``,
``"3.7"`` for item 7 of the inner foreach of outer item 3). Task ids are
deterministic (:func:`argo_task_id`: ``t0`` outside any foreach, ``t3.7``
inside, ``-k`` appended for the k-th iteration of a looping switch step), so a
task finds its parents itself: it reads their records (which say what each
chose with ``self.next``, and how many items a foreach split has) and asks the
local runtime's :class:`~grange.runtime.scheduler.Scheduler` which task they
make ready. The frames and input order are therefore exactly those of a local
run, and a join of a 10,000-way foreach needs no list through Argo.

The start step also claims the run (:func:`claim_argo_run`) and writes its
``_parameters`` task; a task writes its Argo output parameters as files
(:func:`output_parameters`) only once its attempt succeeded.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grange._version import __version__
from grange.datastore import AttemptRecord
from grange.datastore.runs import RunClaim, claim_run, read_claim
from grange.exceptions import CommandError, DatastoreError
from grange.graph import FlowGraph, NodeType
from grange.runtime.scheduler import Outcome, Pending, Scheduler
from grange.task.spec import Frame
from grange.task.stores import MissingInputError, TaskStores

ARGO_RUNTIME = "argo"
RUN_PREFIX = "argo-"
DEFAULT_FOREACH_BATCH_SIZE = 1_000


@dataclass(frozen=True)
class ArgoTask:
    """Where one Argo task stands in its run: its id, parents and split frames."""

    task_id: str
    input_paths: tuple[str, ...]  # run/step/task of each parent
    frames: tuple[Frame, ...]
    iteration: int = 0


def parse_index(text: str) -> tuple[int, ...]:
    """``--argo-index``: dot-joined item indices, outermost first (``""``, ``"3"``, ``"3.7"``).

    Leading and trailing dots are ignored (templates build it as ``{{index}}.{{item}}``)."""
    text = text.strip().strip(".")
    if not text:
        return ()
    try:
        index = tuple(int(part) for part in text.split("."))
    except ValueError:
        index = (-1,)
    if any(i < 0 for i in index):
        raise CommandError(
            f"--argo-index {text!r} is not a foreach index path",
            fix="give dot-joined item numbers, outermost first, e.g. 3.7 (the compiled "
            "workflow passes this option itself)",
        )
    return index


def argo_task_id(index: tuple[int, ...], iteration: int = 0) -> str:
    """The task id of the task at foreach ``index`` (and loop ``iteration``) of a step."""
    base = "t" + (".".join(str(i) for i in index) if index else "0")
    return f"{base}-{iteration}" if iteration else base


def resolve(
    graph: FlowGraph,
    stores: TaskStores,
    run_id: str,
    step: str,
    index: tuple[int, ...],
    iteration: int = 0,
) -> ArgoTask:
    """The task of ``step`` at foreach ``index``: its parents from their records.

    Raises :class:`MissingInputError` naming the step when its parents did not
    (all) succeed: Argo started it anyway (a workflow edited by hand, or one
    compiled from another version of the flow).
    """
    task_id = argo_task_id(index, iteration)
    if step == graph.start:
        return ArgoTask(task_id, (), ())
    scheduler = Scheduler(graph)
    node = graph[step]
    if node.is_join:
        pending = _join(graph, scheduler, stores, run_id, step, index)
    else:
        pending = _follow(graph, scheduler, stores, run_id, step, index, iteration)
    if pending is None:
        raise MissingInputError(
            f"task {stores.flow}/{run_id}/{step}/{task_id}: the tasks it follows have not "
            f"all succeeded (looked for {', '.join(node.in_funcs)} at index "
            f"{'.'.join(map(str, index)) or '(none)'})",
            step=step,
            fix="run the workflow compiled from this flow file with `argo-workflows create`; "
            f"or finish the run locally with resume --origin-run-id {run_id}",
        )
    return ArgoTask(
        task_id,
        tuple(f"{run_id}/{path}" for path in pending.inputs),
        pending.frames,
        pending.iteration,
    )


def _follow(
    graph: FlowGraph,
    scheduler: Scheduler,
    stores: TaskStores,
    run_id: str,
    step: str,
    index: tuple[int, ...],
    iteration: int,
) -> Pending | None:
    """A step with one parent task: whichever of its graph parents ran and chose it."""
    node = graph[step]
    for parent in node.in_funcs:
        parent_node = graph[parent]
        if parent == step:  # a looping switch step re-entering itself
            if iteration == 0:
                continue
            parent_index, parent_iteration = index, iteration - 1
        elif parent_node.is_fanout:
            if not index:
                continue
            parent_index, parent_iteration = index[:-1], 0
        else:
            if iteration:
                continue
            parent_index, parent_iteration = index, 0
        if parent_node.is_loop and parent != step:  # the iteration that left the loop
            record = _last_loop_record(stores, run_id, parent, parent_index)
        else:
            record = _record(stores, run_id, parent, parent_index, parent_iteration)
        if record is None or step not in record.extra.get("next", ()):
            continue
        outcome = _outcome(record)
        if parent_node.is_fanout:
            if index[-1] >= (outcome.foreach_count or 0):
                raise CommandError(
                    f"--argo-index {'.'.join(map(str, index))}: item {index[-1]} of a foreach "
                    f"of {outcome.foreach_count or 0} item(s) (split task {parent}/"
                    f"{record.task_id})",
                    fix="the compiled workflow passes the index; compile the flow again with "
                    "`argo-workflows create` if the workflow was edited",
                )
            return scheduler.foreach_item(outcome, index[-1])
        for pending in scheduler.on_success(outcome):
            if pending.step == step:
                return pending
    return None


def _join(
    graph: FlowGraph,
    scheduler: Scheduler,
    stores: TaskStores,
    run_id: str,
    step: str,
    index: tuple[int, ...],
) -> Pending | None:
    """A join: every branch of the split it closes, in branch order."""
    split = next((n for n in graph if n.matching_join == step), None)
    if split is None:
        return None
    parents = graph[step].in_funcs
    if split.is_fanout:
        record = _record(stores, run_id, split.name, index, 0)
        count = int((record.extra.get("foreach") or {}).get("count", 0)) if record else 0
        branches: Iterable[tuple[int, ...]] = (
            (*index, i) for i in range(count) if record is not None
        )
    else:
        branches = [index]
    for branch in branches:
        for parent in parents:
            if graph[parent].is_loop:
                found = _last_loop_record(stores, run_id, parent, branch)
            else:
                found = _record(stores, run_id, parent, branch, 0)
            if found is None or step not in found.extra.get("next", ()):
                continue
            for pending in scheduler.on_success(_outcome(found)):
                if pending.step == step:
                    return pending
    return None


def _last_loop_record(
    stores: TaskStores, run_id: str, step: str, index: tuple[int, ...]
) -> AttemptRecord | None:
    """The last iteration of a looping switch step (the one that left the loop)."""
    last = None
    iteration = 0
    while True:
        record = _record(stores, run_id, step, index, iteration)
        if record is None:
            return last
        last, iteration = record, iteration + 1


def _record(
    stores: TaskStores, run_id: str, step: str, index: tuple[int, ...], iteration: int
) -> AttemptRecord | None:
    try:
        return stores.final_record(stores.flow, run_id, step, argo_task_id(index, iteration))
    except MissingInputError:
        return None


def _outcome(record: AttemptRecord) -> Outcome:
    foreach = record.extra.get("foreach") or {}
    return Outcome(
        task_id=record.task_id,
        step=record.step,
        frames=tuple(Frame.from_list(f) for f in record.extra.get("frames", ())),
        next_steps=tuple(record.extra.get("next", ())),
        iteration=int(record.extra.get("iteration", 0)),
        foreach_count=foreach.get("count"),
        foreach_key=foreach.get("key"),
    )


# -- the run: its claim and its parameters ------------------------------------------------


def claim_argo_run(
    stores: TaskStores,
    run_id: str,
    *,
    workflow_uid: str | None,
    user: str,
    tags: Iterable[str],
    parameters: Mapping[str, Any],
    code_package: Mapping[str, Any] | None = None,
    system_tags: Iterable[str] = (),
    trigger: Sequence[Mapping[str, Any]] = (),
    graph: Mapping[str, Any] | None = None,
    environments: Mapping[str, Any] | None = None,
    configs: Mapping[str, Any] | None = None,
) -> None:
    """Claim run ``run_id`` for this workflow (its start task), idempotently.

    ``environments``: the steps' @pypi/@conda locks the deployment stored
    (``extra["environments"]``, as a local run records them: ``run.environment``).

    ``configs``: the flow's configs as the deployment baked them (``Run.config``).

    ``graph``: the flow's ``FlowGraph.to_dict()``, which the client shows as ``run.graph``.

    ``trigger``: the events that started the run (``TriggerEvent.to_dict()``s, from
    an Argo Events Sensor), recorded as ``extra["trigger"]`` for ``current.trigger``.

    ``code_package``: the package the pod runs from (``PackageRef.to_dict()``), which
    the client shows as ``run.code``.

    A retry of start in the same workflow finds its own claim and goes on; a
    claim by anything else (another workflow of the same name sharing the
    datastore, a local run) is an error: two runs never share records.
    """
    claim = RunClaim(
        flow=stores.flow,
        run_id=run_id,
        created_at=time.time(),
        user=user,
        tags=tuple(tags),
        system_tags=(
            f"user:{user}",
            f"runtime:{ARGO_RUNTIME}",
            f"grange_version:{__version__}",
            f"python_version:{platform.python_version()}",
            *system_tags,  # @project: project:<name>, project_branch:<branch>
        ),
        parameters=_printable(parameters),
        runtime=ARGO_RUNTIME,
        extra={
            **({"argo_workflow_uid": workflow_uid} if workflow_uid else {}),
            **({"code_package": dict(code_package)} if code_package else {}),
            **({"trigger": [dict(t) for t in trigger]} if trigger else {}),
            **({"graph": dict(graph)} if graph else {}),
            **({"environments": dict(environments)} if environments else {}),
            **({"configs": dict(configs)} if configs else {}),
        },
    )
    if claim_run(stores.blobs, claim):
        return
    held = read_claim(stores.blobs, stores.flow, run_id)
    if (
        held is not None
        and held.runtime == ARGO_RUNTIME
        and held.extra.get("argo_workflow_uid") == workflow_uid
    ):
        return  # start retried in the same workflow
    owner = (
        "a run from before claims"
        if held is None
        else f"runtime {held.runtime}"
        + (
            f", workflow uid {held.extra['argo_workflow_uid']}"
            if held.extra.get("argo_workflow_uid")
            else ""
        )
    )
    raise DatastoreError(
        f"run {stores.flow}/{run_id} exists already in {stores.blobs.describe()} ({owner}); "
        f"this workflow{f' (uid {workflow_uid})' if workflow_uid else ''} cannot use it",
        step="start",
        fix="give each deployment sharing this datastore its own workflow names (another "
        "--name, --branch or namespace), or move the old run's folder away",
    )


def _printable(values: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in values.items():
        try:
            json.dumps(value)
            out[name] = value
        except (TypeError, ValueError):
            out[name] = repr(value)[:200]
    return out


# -- output parameters ---------------------------------------------------------------------


def output_parameters(
    graph: FlowGraph, record: AttemptRecord, *, batch_size: int
) -> dict[str, str]:
    """The Argo output parameters of a succeeded task, as file name -> text."""
    out = {"task-id": record.task_id}
    node = graph[record.step]
    foreach = record.extra.get("foreach")
    if node.is_fanout and foreach:
        count = int(foreach["count"])
        out["count"] = str(count)
        if node.type is NodeType.SPLIT_FOREACH:  # a gang's pods start at once: no batches
            out["batches"] = json.dumps(batches(count, batch_size), separators=(",", ":"))
    if node.is_switch and record.extra.get("next"):
        out["switch-step"] = str(record.extra["next"][0])
    return out


def batches(count: int, size: int) -> list[dict[str, int]]:
    """``count`` items as inclusive ranges of at most ``size`` items."""
    size = max(1, size)
    return [{"start": s, "end": min(s + size, count) - 1} for s in range(0, count, size)]


def write_outputs(directory: str, values: Mapping[str, str]) -> None:
    """Write each output parameter to ``directory/<name>`` (temp file, then rename)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in values.items():
        tmp = folder / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, folder / name)
