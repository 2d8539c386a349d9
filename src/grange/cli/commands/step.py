"""``step``: execute ONE task of a run. The single entry point of every task.

The local runtime calls the same code in a forked worker; ``--no-fork``, a
Kubernetes pod and an Argo container run this command. Its exit status is 0
when the attempt succeeded and 1 when the step raised (the attempt's record
says why).
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from grange.cli.context import FlowContext, pass_flow
from grange.cli.errors import GuardedCommand
from grange.cli.runtime_options import datastore_root
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
    from grange.runtime.processes import PARENT_PID_ENV, guard_task
    from grange.task.execute import run_task
    from grange.task.spec import TaskSpec, frames_from_json
    from grange.task.stores import TaskStores

    parent = os.environ.pop(PARENT_PID_ENV, None)
    if parent and parent.isdigit():  # started by a local runtime: never outlive it
        guard_task(int(parent))
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
    raise SystemExit(0 if record.status == "ok" else 1)


def _task_extra(text: str, with_decorators: tuple[str, ...]) -> dict[str, Any]:
    extra: dict[str, Any] = json.loads(text) if text else {}
    if with_decorators and "with" not in extra:
        extra["with"] = list(with_decorators)
    return extra
