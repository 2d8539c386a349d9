"""``@schedule`` as a CronWorkflow: :func:`cron_workflow`.

The CronWorkflow has the deployment's name and runs its WorkflowTemplate
(``workflowSpec.workflowTemplateRef``), so a scheduled run is the same Workflow
as one ``argo-workflows trigger`` submits, with the template's defaults. It
uses ``schedules: [cron]`` only: Argo 4 removed the singular ``schedule``
(``schedules`` needs Argo >= 3.6). Unlike Metaflow's, it states its
``concurrencyPolicy`` (default ``Allow``, which is what Metaflow's CronWorkflows
get from Argo's default) and keeps a short history (``successfulJobsHistoryLimit``,
``failedJobsHistoryLimit``): the runs' records stay in the datastore whatever
Argo deletes.
"""

from __future__ import annotations

from typing import Any

from hera.workflows import models as m

from grange.decorators.triggers import Schedule
from grange.deploy.argo import metadata
from grange.deploy.argo.manifests import API_VERSION, to_dict
from grange.deploy.argo.settings import CONCURRENCY_POLICIES, ArgoSettings
from grange.exceptions import CompileError
from grange.graph.model import FlowGraph


def cron_workflow(
    name: str, schedule: Schedule, settings: ArgoSettings, graph: FlowGraph
) -> dict[str, Any]:
    """The CronWorkflow running template ``name`` on ``schedule``."""
    check_schedule(schedule, settings, graph)
    cron = m.CronWorkflow(
        api_version=API_VERSION,
        kind="CronWorkflow",
        metadata=m.ObjectMeta(
            name=name,
            namespace=settings.namespace,
            labels=metadata.object_labels(name, settings, "cron"),
            annotations=metadata.object_annotations(graph, settings),
        ),
        spec=m.CronWorkflowSpec(
            schedules=[schedule.cron],
            # stated, as the local scheduler reads it: no timezone is UTC (Argo would
            # take its controller's local time)
            timezone=schedule.timezone or "UTC",
            concurrency_policy=settings.concurrency_policy,
            starting_deadline_seconds=settings.starting_deadline_seconds,
            successful_jobs_history_limit=settings.successful_history,
            failed_jobs_history_limit=settings.failed_history,
            workflow_spec=m.WorkflowSpec(workflow_template_ref=m.WorkflowTemplateRef(name=name)),
        ),
    )
    return to_dict(cron)


def check_schedule(schedule: Schedule, settings: ArgoSettings, graph: FlowGraph) -> None:
    """What Argo's controller would only refuse later, refused when compiling."""
    fields = schedule.cron.split()
    if len(fields) != 5:
        raise CompileError(
            f"@schedule cron {schedule.cron!r} does not have the 5 fields Argo reads "
            "(minute hour day-of-month month day-of-week)",
            file=graph.file,
            line=graph.line,
            fix="write e.g. @schedule(cron='0 6 * * *')",
        )
    if settings.concurrency_policy not in CONCURRENCY_POLICIES:
        raise CompileError(
            f"concurrency policy {settings.concurrency_policy!r} is not one of "
            f"{', '.join(CONCURRENCY_POLICIES)}",
            fix="pass --concurrency-policy Allow|Forbid|Replace (or set [argo] concurrency_policy)",
        )
    for label, value in (
        ("starting_deadline_seconds", settings.starting_deadline_seconds),
        ("successful_jobs_history_limit", settings.successful_history),
        ("failed_jobs_history_limit", settings.failed_history),
    ):
        if value < 0:
            raise CompileError(
                f"[argo] {label} is {value}: it cannot be negative",
                fix=f"set [argo] {label} to 0 or more",
            )
