"""``argo-finish``: Argo's exit handler records how a run of a workflow ended.

The compiled workflow's ``onExit`` template runs
``python flow.py argo-finish --run-id argo-{{workflow.name}} --status {{workflow.status}}``
once the workflow is over, whatever happened to it. ``end`` records a run's
success itself; this records the failure of a run that never reached ``end``
(a failed step, a deadline, a deleted pod), so that readers do not see it as
running for ever. It writes nothing when the end is recorded already.
"""

from __future__ import annotations

import click

from grange.cli.context import FlowContext, pass_flow
from grange.cli.errors import GuardedCommand
from grange.cli.runtime_options import datastore_root


@click.command(
    "argo-finish",
    cls=GuardedCommand,
    hidden=True,
    short_help="Record the end of a run on Argo (the workflow's exit handler).",
)
@click.option("--run-id", required=True, help="argo-{{workflow.name}}")
@click.option("--status", "argo_status", required=True, help="{{workflow.status}}")
@pass_flow
def argo_finish(flow: FlowContext, run_id: str, argo_status: str) -> None:
    from grange.runtime.argo_task import finish_argo_run
    from grange.task.stores import TaskStores

    stores = TaskStores(datastore_root(flow.settings).open(), flow.flow_name)
    written = finish_argo_run(stores, run_id, argo_status, end=flow.graph().end)
    if written is not None:
        flow.say(f"Run {flow.flow_name}/{run_id} {written} (Argo: {argo_status}).")
