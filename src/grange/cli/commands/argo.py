"""``argo-workflows``: deploy the flow to Argo Workflows and manage its runs.

The verbs are Metaflow's: ``create`` (compile, store the code package,
create or replace the WorkflowTemplate), ``trigger`` (a Workflow from it),
``status RUN``, ``list-runs``, ``terminate RUN``, ``suspend RUN``,
``unsuspend RUN``, ``delete``, and ``list-workflow-templates``. The work is
done by :mod:`grange.cli.argo_deploy` (what to compile, from which settings)
and :mod:`grange.deploy` (the compiler and the cluster); this module only
gathers options and prints.
"""

from __future__ import annotations

from typing import Any

import click

from grange.cli.context import FlowContext, pass_flow
from grange.cli.errors import GuardedCommand, GuardedGroup
from grange.cli.params import parameter_options


def make_argo_group(flow_cls: type) -> click.Group:
    """The ``argo-workflows`` group of ``flow_cls`` (``trigger`` takes its parameters)."""

    @click.group(
        "argo-workflows",
        cls=GuardedGroup,
        short_help="Deploy the flow to Argo Workflows; trigger and manage its runs.",
        help="Deploy the flow to Argo Workflows on Kubernetes (a WorkflowTemplate, plus a "
        "CronWorkflow and Argo Events sensors when the flow asks for them), trigger runs "
        "and manage them. The cluster is the one KUBECONFIG (or the profile's [kubernetes] "
        "kubeconfig/context) points at.",
    )
    @click.option(
        "--name",
        metavar="NAME",
        help="The WorkflowTemplate's name [default: from the flow (and @project) name].",
    )
    @click.option(
        "--k8s-namespace",
        "--kubernetes-namespace",
        "k8s_namespace",
        metavar="NS",
        help="The Kubernetes namespace [default: the profile's, else 'default'].",
    )
    @pass_flow
    @click.pass_context
    def argo_workflows(
        ctx: click.Context, flow: FlowContext, name: str | None, k8s_namespace: str | None
    ) -> None:
        from grange.cli.argo_deploy import Deployment

        ctx.obj = Deployment(flow, name=name, k8s_namespace=k8s_namespace)

    for command in (
        _create(flow_cls),
        _trigger(flow_cls),
        status,
        list_runs,
        terminate,
        suspend,
        unsuspend,
        delete,
        list_templates,
        event_source,
    ):
        argo_workflows.add_command(command)
    return argo_workflows


def _create(flow_cls: type) -> click.Command:
    @click.command(
        "create",
        cls=GuardedCommand,
        short_help="Compile the flow and deploy it to Argo Workflows.",
        help="Compile the flow to a WorkflowTemplate, store its code package in the "
        "datastore, and create (or replace) the template on the cluster. With --only-json "
        "or --only-yaml, print the manifests and touch no cluster. Flow parameters given "
        "here become the deployment's defaults.",
    )
    @click.option("--tag", "tags", multiple=True, metavar="TAG", help="A tag of every run.")
    @click.option("--image", metavar="IMAGE", help="Every step's image unless @kubernetes says.")
    @click.option("--namespace", "run_namespace", metavar="NAME",
                  help="The namespace client calls in the deployed steps read from "
                  "[default: the deployment's branch, else the deployer's user:].")  # fmt: skip
    @click.option("--max-workers", type=click.IntRange(min=1), default=100, show_default=True,
                  help="Tasks of one run at once (Argo's spec.parallelism).")  # fmt: skip
    @click.option("--workflow-timeout", type=click.IntRange(min=1), metavar="SECONDS",
                  help="End a run after this long (spec.activeDeadlineSeconds).")  # fmt: skip
    @click.option("--workflow-priority", type=int, help="spec.priority of every run.")
    @click.option("--max-num-splits", type=click.IntRange(min=1), default=100_000,
                  show_default=True, help="Refuse a foreach over more items than this.")  # fmt: skip
    @click.option("--foreach-batch-size", type=click.IntRange(min=1), default=1000,
                  show_default=True,
                  help="Foreach items per Argo batch (keeps parameters and node lists small).")  # fmt: skip
    @click.option("--auto-emit-argo-events/--no-auto-emit-argo-events", default=True,
                  show_default=True, help="Publish an event when a run ends successfully.")  # fmt: skip
    @click.option("--concurrency-policy", type=click.Choice(["Allow", "Forbid", "Replace"]),
                  help="@schedule: what a tick does while a run is still going: start another "
                  "(Allow), skip (Forbid) or stop the old one (Replace) "
                  "[default: [argo] concurrency_policy, else Allow].")  # fmt: skip
    @click.option("--notify-on-error/--no-notify-on-error", default=False, hidden=True)
    @click.option("--notify-on-success/--no-notify-on-success", default=False, hidden=True)
    @click.option("--branch", metavar="NAME", help="Deploy to the @project branch test.NAME.")
    @click.option("--production", is_flag=True, help="Deploy to the @project production branch.")
    @click.option("--authorize", metavar="TOKEN",
                  help="The production token of a deployment someone else made.")  # fmt: skip
    @click.option("--generate-new-token", is_flag=True,
                  help="Take over the deployment with a new production token.")  # fmt: skip
    @click.option("--new-token", "given_token", metavar="TOKEN",
                  help="Take over the deployment with this production token.")  # fmt: skip
    @click.option("--only-json", is_flag=True, help="Print the manifests as JSON; deploy nothing.")
    @click.option("--only-yaml", is_flag=True, help="Print the manifests as YAML; deploy nothing.")
    @click.option("--deployer-attribute-file", hidden=True)
    @click.pass_obj
    def create(deployment: Any, /, **options: Any) -> None:
        _refuse_clashes(clashes, "create")
        deployment.create(options)

    clashes = _add_parameters(create, flow_cls)
    return create


def _trigger(flow_cls: type) -> click.Command:
    @click.command(
        "trigger",
        cls=GuardedCommand,
        short_help="Start a run of the deployed flow.",
        help="Submit a Workflow from the deployed template. Flow parameters are options "
        "(--alpha 0.3); those not given take the deployment's defaults.",
    )
    @click.option("--run-id-file", metavar="FILE", help="Write the run id to FILE.")
    @click.option("--branch", metavar="NAME", help="Trigger the @project branch test.NAME.")
    @click.option("--production", is_flag=True, help="Trigger the production deployment.")
    @click.option("--deployer-attribute-file", hidden=True)
    @click.pass_obj
    def trigger(deployment: Any, /, **options: Any) -> None:
        _refuse_clashes(clashes, "trigger")
        deployment.trigger(options)

    clashes = _add_parameters(trigger, flow_cls)
    return trigger


def _add_parameters(command: click.Command, flow_cls: type) -> list[str]:
    """Add the flow's parameters as options of ``command``; return the names of those
    that have the name of one of its own options (``--image``, ``--branch``...)."""
    taken = {opt for param in command.params for opt in getattr(param, "opts", ())}
    clashes = []
    for option in parameter_options(flow_cls):
        if set(option.opts) & taken:
            clashes.append(option.opts[0])
        else:
            command.params.append(option)
    return clashes


def _refuse_clashes(clashes: list[str], verb: str) -> None:
    """A parameter named like an option of the verb could be set by neither: say so
    rather than take the value for the other one."""
    if clashes:
        from grange.exceptions import ParameterError

        names = ", ".join(clashes)
        raise ParameterError(
            f"the flow's parameter {names} has the name of an option of "
            f"`argo-workflows {verb}`, so a value given as {names} could not reach it",
            fix="rename the parameter, e.g. Parameter('model_image', ...)",
        )


def _run_command(name: str, help_text: str, method: str) -> click.Command:
    @click.command(name, cls=GuardedCommand, help=help_text, short_help=help_text.split(".")[0])
    @click.argument("run_id", metavar="RUN_ID")
    @click.pass_obj
    def command(deployment: Any, run_id: str) -> None:
        getattr(deployment, method)(run_id)

    return command


status = _run_command("status", "Print the status of an Argo run (argo-<name>).", "status")
terminate = _run_command("terminate", "Stop an Argo run: its running pods are killed.", "terminate")
suspend = _run_command("suspend", "Pause an Argo run: no new task starts.", "suspend")
unsuspend = _run_command("unsuspend", "Resume a suspended Argo run.", "unsuspend")


@click.command("list-runs", cls=GuardedCommand, help="List the runs of the deployed flow.")
@click.option("--branch", metavar="NAME", help="The @project branch test.NAME.")
@click.option("--production", is_flag=True, help="The production deployment.")
@click.pass_obj
def list_runs(deployment: Any, branch: str | None, production: bool) -> None:
    deployment.list_runs(branch=branch, production=production)


@click.command("delete", cls=GuardedCommand, help="Delete the deployment: its template, "
               "its CronWorkflow and its sensors (runs already started go on).")  # fmt: skip
@click.option("--branch", metavar="NAME", help="The @project branch test.NAME.")
@click.option("--production", is_flag=True, help="The production deployment.")
@click.option("--authorize", metavar="TOKEN", help="The deployment's production token.")
@click.option("--if-exists", is_flag=True,
              help="A deployment that does not exist is no error (e.g. CI removing a closed "
              "pull request's branch that was never deployed).")  # fmt: skip
@click.pass_obj
def delete(
    deployment: Any, branch: str | None, production: bool, authorize: str | None, if_exists: bool
) -> None:
    deployment.delete(
        branch=branch, production=production, authorize=authorize, if_exists=if_exists
    )


@click.command("list-workflow-templates", cls=GuardedCommand,
               help="List the WorkflowTemplates of this flow (every branch).")  # fmt: skip
@click.option("--all", "all_flows", is_flag=True, help="Those of every grange flow.")
@click.pass_obj
def list_templates(deployment: Any, all_flows: bool) -> None:
    deployment.list_templates(all_flows=all_flows)


@click.command(
    "event-source",
    cls=GuardedCommand,
    short_help="Print (or create) the webhook EventSource that carries events.",
    help="Print the Argo Events EventSource of grange's convention: one webhook "
    "([argo] events_source, default grange-events) whose one event ([argo] events_event, "
    "default grange-event) carries every event; the Sensors of @trigger and "
    "@trigger_on_finish flows listen to it. With --apply, create or replace it in the "
    "namespace. Set [argo] events_webhook_url to the URL it prints.",
)
@click.option("--apply", is_flag=True, help="Create or replace it on the cluster.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON rather than YAML.")
@click.pass_obj
def event_source(deployment: Any, apply: bool, as_json: bool) -> None:
    deployment.event_source(apply=apply, as_json=as_json)
