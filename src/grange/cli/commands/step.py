"""``step``: execute ONE task of a run. The single entry point of every task.

The local runtime calls the same code in a forked worker; ``--no-fork``, a
Kubernetes pod and an Argo container run this command. Its exit status is 0
when the attempt succeeded and 1 when the step raised (the attempt's record
says why). As a forked worker does, the process ends once the attempt is
recorded: threads the step left running do not keep it alive.
"""

from __future__ import annotations

import atexit
import contextlib
import difflib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from grange.cli.context import FlowContext, pass_flow
from grange.cli.errors import GuardedCommand
from grange.cli.runtime_options import datastore_root
from grange.exceptions import CommandError
from grange.parameters import current_username


@click.command(
    "step",
    cls=GuardedCommand,
    hidden=True,
    short_help="Execute one task (used by the runtime and by remote compute).",
)
@click.argument("step_name", metavar="STEP")
@click.option("--run-id", required=True)
@click.option("--task-id", default=None, help="Required, except in Argo mode (--argo-index).")
@click.option("--retry-count", type=int, default=0, help="The attempt number, from 0.")
@click.option(
    "--input-paths", default="", help="Comma-separated run/step/task of the parent tasks."
)
@click.option(
    "--input-paths-file",
    type=click.Path(exists=True, dir_okay=False),
    help="A file holding --input-paths (for joins with very many parents).",
)
@click.option("--split-frames", default="", help="JSON list of the enclosing splits.")
@click.option("--iteration", type=int, default=0, help="Loop iteration of a looping switch step.")
@click.option("--origin-run-id", default=None)
@click.option("--tag", "tags", multiple=True)
@click.option("--namespace", "step_namespace", default=None)
@click.option("--max-num-splits", type=int, default=100_000)
@click.option(
    "--task-extra", default="", help="JSON: environment, timeout, --with, @catch fallback."
)
@click.option(
    "--max-user-retries",
    type=int,
    default=0,
    help="Retries @retry allows (the last attempt may @catch).",
)
@click.option(
    "--argo-index",
    default=None,
    help="Argo mode: the task's foreach index path ('' outside any foreach, '3.7').",
)
@click.option("--argo-workflow-uid", default=None, help="Argo mode: {{workflow.uid}}.")
@click.option(
    "--argo-parameter",
    "argo_parameters",
    multiple=True,
    help="Argo mode, start step: NAME=JSON, a workflow argument (repeatable).",
)
@click.option(
    "--outputs-dir",
    default=None,
    help="Argo mode: where to write the output parameters (task-id, count, batches, ...).",
)
@click.option(
    "--foreach-batch-size",
    type=click.IntRange(min=1),
    default=1_000,
    help="Argo mode: items per batch of a foreach split's 'batches' output.",
)
@pass_flow
def step(
    flow: FlowContext,
    step_name: str,
    run_id: str,
    task_id: str | None,
    retry_count: int,
    input_paths: str,
    input_paths_file: str | None,
    split_frames: str,
    iteration: int,
    origin_run_id: str | None,
    tags: tuple[str, ...],
    step_namespace: str | None,
    max_num_splits: int,
    max_user_retries: int,
    task_extra: str,
    argo_index: str | None,
    argo_workflow_uid: str | None,
    argo_parameters: tuple[str, ...],
    outputs_dir: str | None,
    foreach_batch_size: int,
) -> None:
    from grange.runtime.processes import PARENT_PID_ENV, forget_shim, guard_task
    from grange.task.execute import run_task
    from grange.task.spec import TaskSpec, frames_from_json
    from grange.task.stores import TaskStores

    _check_step(flow, step_name)
    forget_shim()  # a step environment's: not for what the step starts
    parent = os.environ.pop(PARENT_PID_ENV, None)
    if parent and parent.isdigit():  # started by a local runtime: never outlive it
        guard_task(int(parent))
        # Ctrl-C is the runtime's to handle; it ends the task as it ends a forked one,
        # and a KeyboardInterrupt in the task is then one its step raised.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    project = flow.project()  # the top-level --branch/--production, as the runtime's
    namespace = step_namespace or flow.settings.namespace
    if argo_index is not None:
        # A deployed run's tasks read their own branch's runs, as Metaflow's deployed
        # (production-token) namespaces do; a local run's read the user's namespace.
        if namespace is None and project is not None:
            namespace = project.namespace
        from grange.runtime.argo_task import ArgoTaskRequest, run_argo_task
        from grange.runtime.remote_task import parse_index

        request = ArgoTaskRequest(
            step=step_name,
            run_id=run_id,
            index=parse_index(argo_index),
            attempt=retry_count,
            max_user_retries=max_user_retries,
            outputs_dir=outputs_dir,
            workflow_uid=argo_workflow_uid or None,
            parameters=argo_parameters,
            iteration=iteration,
            foreach_batch_size=foreach_batch_size,
            max_num_splits=max_num_splits,
            user=current_username(),
            tags=tags or _deployment_tags(),
            namespace=namespace,
            with_decorators=flow.settings.with_decorators,
            project=project,
        )
        stores = TaskStores(datastore_root(flow.settings).open(), flow.flow_name)
        _end_process(run_argo_task(flow.flow_cls, stores, request))
    if task_id is None:
        raise CommandError(
            "step: --task-id is required (or --argo-index in an Argo container)",
            fix="the runtime passes it; to run a task by hand, give --task-id ID",
        )
    if input_paths_file:
        with open(input_paths_file, encoding="utf-8") as fh:
            input_paths = fh.read().strip()
    spec = TaskSpec(
        flow=flow.flow_name,
        run_id=run_id,
        step=step_name,
        task_id=task_id,
        attempt=retry_count,
        input_paths=_input_paths(input_paths),
        frames=_parsed("--split-frames", split_frames, frames_from_json, "[[...], ...]"),
        iteration=iteration,
        origin_run_id=origin_run_id,
        tags=tags,
        user=current_username(),
        namespace=namespace,
        max_user_retries=max_user_retries,
        extra=_task_extra(task_extra, flow.settings.with_decorators),
    )
    stores = TaskStores(datastore_root(flow.settings).open(), flow.flow_name)
    record = run_task(flow.flow_cls, spec, stores, max_num_splits=max_num_splits, project=project)
    _end_process(0 if record.status == "ok" else 1)


ARGO_TAGS_ENV = "GRANGE_ARGO_TAGS"  # the deployment's --tag values, JSON (every pod)


def _deployment_tags() -> tuple[str, ...]:
    """The tags an Argo deployment gives every task of its runs (``GRANGE_ARGO_TAGS``,
    set once in the template's shared environment, so that ``current.tags`` is the
    same in every step, as in a local run)."""
    text = os.environ.get(ARGO_TAGS_ENV)
    if not text:
        return ()
    tags = _parsed(ARGO_TAGS_ENV, text, json.loads, '["tag", ...]')
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise CommandError(f"{ARGO_TAGS_ENV}: {text!r} is not a JSON list of tags")
    return tuple(tags)


def _end_process(code: int) -> NoReturn:
    """Exit now, as a forked task does: after the exit handlers, without waiting for
    threads the step left running (an interpreter's normal exit would hang on them),
    nor finalizing the interpreter under an S3 client's native threads."""
    from grange.datastore.s3.connect import started_here

    if threading.active_count() == 1 and not started_here():
        raise SystemExit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _check_step(flow: FlowContext, step_name: str) -> None:
    """The step exists in the flow's graph (the runtime only ever names real steps)."""
    steps = list(flow.graph().nodes)
    if step_name in steps:
        return
    close = difflib.get_close_matches(step_name, steps, n=1)
    raise CommandError(
        f"step {step_name!r}: flow {flow.flow_name} has no step of that name",
        fix=(f"did you mean '{close[0]}'? " if close else "") + "steps: " + ", ".join(steps),
    )


def _input_paths(text: str) -> tuple[str, ...]:
    paths = tuple(p for p in text.split(",") if p)
    for path in paths:
        if len(path.split("/")) != 3 or not all(path.split("/")):
            raise CommandError(
                f"--input-paths: {path!r} is not RUN/STEP/TASK",
                fix="give the parent tasks as comma-separated RUN/STEP/TASK, e.g. 3/start/1",
            )
    return paths


T = TypeVar("T")


def _parsed(option: str, text: str, parse: Callable[[str], T], form: str) -> T:
    """``parse(text)``, with a malformed value named instead of a JSON or type error."""
    try:
        return parse(text)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as err:
        raise CommandError(
            f"{option}: {text!r} cannot be read ({type(err).__name__}: {err})",
            fix=f"give JSON of the form {form} (the runtime writes this option itself)",
        ) from None


def _task_extra(text: str, with_decorators: tuple[str, ...]) -> dict[str, Any]:
    extra = _parsed("--task-extra", text, _json_object, '{"key": value, ...}')
    if with_decorators and "with" not in extra:
        extra["with"] = list(with_decorators)
    return extra


def _json_object(text: str) -> dict[str, Any]:
    value = json.loads(text) if text else {}
    if not isinstance(value, dict):
        raise TypeError(f"a JSON object is needed, not {type(value).__name__}")
    return value
