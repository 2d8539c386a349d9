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
from typing import Any

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
@click.option("--task-id", required=True)
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
@pass_flow
def step(
    flow: FlowContext,
    step_name: str,
    run_id: str,
    task_id: str,
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
) -> None:
    from grange.datastore import LocalBlobStore
    from grange.runtime.launcher import PARENT_PID_ENV, die_with_parent
    from grange.task.execute import run_task
    from grange.task.spec import TaskSpec, frames_from_json
    from grange.task.stores import TaskStores

    graph = flow.graph()
    if step_name not in graph.nodes:
        close = difflib.get_close_matches(step_name, list(graph.nodes), n=1)
        raise CommandError(
            f"flow {flow.flow_name} has no step '{step_name}'",
            fix=(f"did you mean '{close[0]}'? " if close else "")
            + f"its steps: {', '.join(n.name for n in graph)}",
        )
    parent = os.environ.pop(PARENT_PID_ENV, None)
    if parent and parent.isdigit():  # started by a local runtime: never outlive it
        die_with_parent(int(parent))
        # Ctrl-C is the runtime's to handle; it ends the task as it ends a forked one,
        # and a KeyboardInterrupt in the task is then one its step raised.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    if input_paths_file:
        with open(input_paths_file, encoding="utf-8") as fh:
            input_paths = fh.read().strip()
    spec = TaskSpec(
        flow=flow.flow_name,
        run_id=run_id,
        step=step_name,
        task_id=task_id,
        attempt=retry_count,
        input_paths=tuple(p for p in input_paths.split(",") if p),
        frames=frames_from_json(split_frames),
        iteration=iteration,
        origin_run_id=origin_run_id,
        tags=tags,
        user=current_username(),
        namespace=step_namespace or flow.settings.namespace,
        max_user_retries=max_user_retries,
        extra=_task_extra(task_extra, flow.settings.with_decorators),
    )
    stores = TaskStores(LocalBlobStore(datastore_root(flow.settings)), flow.flow_name)
    record = run_task(flow.flow_cls, spec, stores, max_num_splits=max_num_splits)
    _end_process(0 if record.status == "ok" else 1)


def _end_process(code: int) -> None:
    """Exit now, as a forked task does: after the exit handlers, without waiting for
    threads the step left running (an interpreter's normal exit would hang on them)."""
    if threading.active_count() == 1:
        raise SystemExit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _task_extra(text: str, with_decorators: tuple[str, ...]) -> dict[str, Any]:
    extra: dict[str, Any] = json.loads(text) if text else {}
    if with_decorators and "with" not in extra:
        extra["with"] = list(with_decorators)
    return extra
