"""Run one task attempt: the single code path behind every way a task is launched."""

from __future__ import annotations

import faulthandler
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import grange
from grange.current import current
from grange.datastore import AttemptRecord, ForeachRef, save_items, write_record
from grange.decorators.base import StepDecorator
from grange.decorators.catch import display_name, exception_message, qualified_name
from grange.decorators.project import ProjectInfo
from grange.exceptions import GrangeError, InvalidNextError
from grange.flowspec import FlowSpec, Transition
from grange.graph import FlowGraph, NodeType, StepNode, graph_of
from grange.parameters import flow_constants, flow_parameters
from grange.task.context import TaskContext, bind_current
from grange.task.guards import (
    alarm,
    apply_environment,
    caught_value,
    decorators_for,
    has_cards,
    timeout_seconds,
)
from grange.task.parallel import gang_facts, save_gang
from grange.task.secrets import TaskSecrets, preload_secrets, uses_secrets
from grange.task.spec import TaskSpec
from grange.task.stores import TaskStores

_GRANGE_DIR = str(Path(grange.__file__).parent)

# What a step can raise that fails the step (and that @catch sees): exceptions, and
# sys.exit() and KeyboardInterrupt raised by its code, which would otherwise end the
# task's process with no record of where. (Ctrl-C does not raise in a task: the
# runtime handles it, and task processes die of SIGINT.)
STEP_FAILURES = (Exception, SystemExit, KeyboardInterrupt)


@dataclass(frozen=True)
class FlowFacts:
    """What every task of a flow class needs and nothing in a task changes."""

    graph: dict[str, Any]  # current.graph
    parameter_names: list[str]
    constant_names: list[str]  # class attributes stored with the parameters


def flow_facts(flow_cls: type[FlowSpec]) -> FlowFacts:
    """Computed once per process and cached on the class; the runtime computes
    it before it forks the fork server, so forked tasks inherit it."""
    cached = flow_cls.__dict__.get("_grange_task_facts")
    if cached is None:
        graph = graph_of(flow_cls)
        if uses_secrets(flow_cls, [n.name for n in graph]):
            preload_secrets()  # in the fork server once, not in each task that reads them
        cached = FlowFacts(
            graph=graph.to_dict(),
            parameter_names=[p.attribute or p.name for p in flow_parameters(flow_cls)],
            constant_names=list(flow_constants(flow_cls)),
        )
        type.__setattr__(flow_cls, "_grange_task_facts", cached)
    return cached


#: A record lists its task's inputs (its parents) up to this many: the parents of
#: the join of a 100,000-way foreach would make its record megabytes long.
MAX_RECORDED_INPUTS = 64


def run_task(
    flow_cls: type[FlowSpec],
    spec: TaskSpec,
    stores: TaskStores,
    *,
    max_num_splits: int,
    project: ProjectInfo | None = None,
) -> AttemptRecord:
    """Execute the step of ``spec`` once and commit the attempt's record.

    User code errors do not propagate: they are printed to stderr (with the
    user's frames only) and recorded as a failed attempt. ``project`` is the
    ``@project`` branch of the run (``current.project_name`` ...), resolved once
    by the runtime or the ``step`` command.
    """
    secrets = TaskSecrets()  # inert unless the step has @secrets
    try:
        return _run_attempt(flow_cls, spec, stores, max_num_splits, secrets, project)
    finally:
        secrets.close()


def _run_attempt(
    flow_cls: type[FlowSpec],
    spec: TaskSpec,
    stores: TaskStores,
    max_num_splits: int,
    secrets: TaskSecrets,
    project: ProjectInfo | None,
) -> AttemptRecord:
    graph = graph_of(flow_cls)
    facts = flow_facts(flow_cls)
    node = graph[spec.step]
    started = time.time()
    extra: dict[str, Any] = {
        "frames": [f.to_list() for f in spec.frames],
        "iteration": spec.iteration,
    }
    if len(spec.input_paths) <= MAX_RECORDED_INPUTS:
        extra["inputs"] = list(spec.input_paths)  # for an index rebuilt from the records
    artifacts = {}
    exception = None
    status: Literal["ok", "failed"]
    ctx: TaskContext | None = None
    flow: FlowSpec | None = None
    cards: Any = None  # grange.task.cards.TaskCards on a step with @card
    persisting = False
    apply_environment(spec)
    if not faulthandler.is_enabled():
        # A crash in C code (SIGSEGV, SIGBUS, SIGABRT...) prints the Python stack that
        # was running to the task's own stderr log, not only "killed" in the summary.
        faulthandler.enable()
    try:
        ctx = TaskContext(
            spec,
            stores,
            is_join=node.is_join,
            parameter_names=facts.parameter_names,
            constant_names=facts.constant_names,
        )
        flow = flow_cls(use_cli=False)
        flow.__dict__["_grange_task"] = ctx
        flow.__dict__["_grange_parameter_values"] = ctx.parameters
        bind_current(spec, facts.graph, list(ctx.parameters), project, stores.blobs)
        decorators = decorators_for(flow_cls, spec)
        if has_cards(decorators):
            from grange.task.cards import TaskCards  # steps without @card never import it

            cards = TaskCards(decorators, spec, stores, started=started, graph=facts.graph)
            cards.bind(ctx)
        if "parallel" in spec.extra:
            current._bind(**gang_facts(spec))
        try:
            if "catch" in spec.extra:
                transition: Transition | None = _fallback(flow, node, spec)
                extra["caught"] = True
            elif _call_step(flow, node, spec, ctx, decorators, secrets):
                transition = _declared_transition(node)
                extra["caught"] = True
            else:
                transition = _checked_transition(flow, node, graph)
        finally:
            current._unbind()
        if transition is not None:
            extra["next"] = list(transition.steps)
            if transition.foreach:
                try:
                    ref = _save_foreach(
                        flow, transition.foreach, spec, stores, max_num_splits, secrets
                    )
                except GrangeError as err:  # too many items, none, unpicklable: name the call
                    if err.file is None:
                        err.file, err.line = node.file, transition.line or node.next_line
                    raise
                extra["foreach"] = {"key": ref.key, "count": ref.count}
            elif transition.num_parallel:
                ref = save_gang(
                    transition.num_parallel,
                    spec,
                    stores,
                    max_num_splits,
                    where=(node.file, transition.line or node.next_line),
                )
                extra["foreach"] = {"key": ref.key, "count": ref.count}
                extra["parallel"] = ref.count
            if transition.condition:
                extra["case"] = transition.case
        persisting = True
        artifacts = ctx.persist({k: v for k, v in flow.__dict__.items()})
        status = "ok"
    except STEP_FAILURES as exc:
        status = "failed"
        exception = secrets.mask_record(_describe(exc, spec))
        print(exception["text"], file=sys.stderr, flush=True)
        if ctx is not None and flow is not None and not persisting:
            # As Metaflow does: keep what the step had set, to look at the failure
            # (unless saving them was the failure: then, like Metaflow, none).
            artifacts = ctx.persist(dict(flow.__dict__), skip_unsaveable=True)
    record = AttemptRecord(
        flow=spec.flow,
        run_id=spec.run_id,
        step=spec.step,
        task_id=spec.task_id,
        attempt=spec.attempt,
        status=status,
        started_at=started,
        finished_at=time.time(),
        artifacts=artifacts,
        exception=exception,
        extra=extra,
    )
    write_record(stores.blobs, record)
    if cards is not None:  # after the record: a card never loses the result (a hung one
        # holds the task up to its @card timeout, as in Metaflow)
        cards.finish(record, flow.__dict__ if flow is not None else None)
    if threading.active_count() > 1:
        _note_threads(spec)
    return record


def _note_threads(spec: TaskSpec) -> None:
    """Threads the step started and left running do not keep the task alive (the
    process ends once the attempt is recorded, fork or not): say so in its log."""
    left = [
        t.name
        for t in threading.enumerate()
        if t is not threading.current_thread() and not t.daemon and t.is_alive()
    ]
    if left:
        print(
            f"note: step '{spec.step}' left {len(left)} thread(s) running "
            f"({', '.join(left[:5])}); they stop when the task ends",
            file=sys.stderr,
            flush=True,
        )


def _call_step(
    flow: FlowSpec,
    node: StepNode,
    spec: TaskSpec,
    ctx: TaskContext,
    decorators: list[StepDecorator],
    secrets: TaskSecrets,
) -> bool:
    """The user's step, between its decorators' hooks, under its @timeout alarm.

    Returns True when the step raised and a decorator (``@catch``) handled it.
    ``@secrets`` are read first (after the inputs, before any hook).
    """
    secrets.start(decorators, step=spec.step, file=node.file, line=node.line)
    if secrets.active:
        ctx.stores.artifact_check = secrets.check_artifact
    for deco in decorators:
        deco.task_pre_step(flow=flow, step=spec.step, attempt=spec.attempt)
    try:
        if timeout_seconds(spec):
            with alarm(spec):
                _call_user_step(flow, node, spec, ctx)
        else:  # the common case, kept free of context managers: tasks are many
            _call_user_step(flow, node, spec, ctx)
    except STEP_FAILURES as exc:
        secrets.mask_exception(exc)
        last = spec.attempt >= spec.max_user_retries
        handled = [
            d.task_exception(
                flow=flow, step=spec.step, attempt=spec.attempt, last_attempt=last, exception=exc
            )
            for d in decorators
        ]
        if not any(handled):
            raise
        return True
    finally:
        for deco in reversed(decorators):
            deco.task_post_step(flow=flow, step=spec.step, attempt=spec.attempt)
    return False


def _call_user_step(flow: FlowSpec, node: StepNode, spec: TaskSpec, ctx: TaskContext) -> None:
    func = getattr(flow, spec.step)
    if node.is_join:
        func(ctx.inputs())
    else:
        func()


def _declared_transition(node: StepNode) -> Transition | None:
    """As if the step had called its ``self.next(...)`` (after @catch handled a failure)."""
    return None if node.type is NodeType.END else Transition(steps=node.out_funcs)


def _fallback(flow: FlowSpec, node: StepNode, spec: TaskSpec) -> Transition | None:
    """The @catch attempt: no user code; keep the exception, go on as declared."""
    var, value, show = caught_value(spec)
    if show:
        print(f"@catch: step '{spec.step}' failed and the flow goes on: {value}", file=sys.stderr)
    if var:
        flow.__dict__[var] = value
    return _declared_transition(node)


def _save_foreach(
    flow: FlowSpec,
    name: str,
    spec: TaskSpec,
    stores: TaskStores,
    max_num_splits: int,
    secrets: TaskSecrets,
) -> ForeachRef:
    """Materialize the foreach's items once. A one-shot iterator (a generator) cannot
    be iterated again nor pickled, so the artifact keeps the list of what it gave."""
    value = getattr(flow, name)
    if secrets.active:  # the items are checked before any is stored
        if iter(value) is value:
            value = flow.__dict__[name] = list(value)
        secrets.check_artifact(name, value, spec.step)
    kept: list[Any] | None = [] if iter(value) is value else None
    items = value if kept is None else _keeping(value, kept)
    ref = save_items(
        stores.blobs, spec.flow, items, max_items=max_num_splits, name=name, step=spec.step
    )
    if kept is not None:
        flow.__dict__[name] = kept
    return ref


def _keeping(iterator: Iterator[Any], kept: list[Any]) -> Iterator[Any]:
    for item in iterator:
        kept.append(item)
        yield item


def _checked_transition(flow: FlowSpec, node: StepNode, graph: FlowGraph) -> Transition | None:
    transition = flow._transition
    where = {"file": node.file, "step": node.name}
    if node.type is NodeType.END:
        return None
    if transition is None:
        raise InvalidNextError(
            f"step '{node.name}' ended without calling self.next()",
            line=node.next_line or node.line,
            fix="end the step with self.next(...) on every path",
            **where,
        )
    line = transition.line or node.line
    if node.is_switch:
        if transition.condition is None or set(transition.cases.values()) != set(
            node.switch_cases.values()
        ):
            raise InvalidNextError(
                f"step '{node.name}' called self.next() with other cases than its source declares",
                line=line,
                fix="keep one self.next({...}, condition=...) as the step's last statement",
                **where,
            )
        return transition
    if (
        tuple(transition.steps) != node.out_funcs
        or transition.foreach != node.foreach_var
        or (transition.num_parallel is None) != (node.num_parallel is None)
    ):
        declared = ", ".join(node.out_funcs)
        raise InvalidNextError(
            f"step '{node.name}' went to {', '.join(transition.steps)}, but its last statement "
            f"goes to {declared}"
            + (f" (foreach='{node.foreach_var}')" if node.foreach_var else "")
            + (f" (num_parallel={node.num_parallel})" if node.num_parallel is not None else ""),
            line=line,
            fix="call self.next() once, as the last statement, the same way on every path; "
            "use a switch (condition=) to choose between steps",
            **where,
        )
    return transition


def _describe(exc: BaseException, spec: TaskSpec) -> dict[str, Any]:
    """Exception facts for the record, and the text shown to the user.

    ``type`` is the qualified class name (``builtins.ValueError``), as Metaflow records it.
    """
    type_name = qualified_name(exc)
    message = exception_message(exc)
    if isinstance(exc, GrangeError):
        text = exc.render()
        tb_text = ""
    else:
        frames = [
            f
            for f in traceback.extract_tb(exc.__traceback__)
            if not f.filename.startswith(_GRANGE_DIR)
        ]
        tb_text = "".join(traceback.format_list(frames))
        text = (
            f"Step '{spec.step}' (task {spec.pathspec}) failed:\n"
            f"Traceback (most recent call last):\n{tb_text}"
            f"{display_name(type_name)}: {message}"
        )
    return {"type": type_name, "message": message, "traceback": tb_text, "text": text}
