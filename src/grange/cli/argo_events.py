"""``argo-workflows``' share of ``@schedule`` and ``@trigger``: the settings of the
CronWorkflow and the Sensor (the flow's decorators and the profile's ``[argo]`` keys),
removing what a redeploy no longer has, and the webhook EventSource of the convention
(``argo-workflows event-source``). See docs/argo.md, "Schedules and events"."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import click

from grange.exceptions import CommandError

if TYPE_CHECKING:
    from grange.cli.argo_deploy import Deployment

PREFIX = "grange.dev/"


def event_settings(deployment: Deployment, options: dict[str, Any], info: Any) -> dict[str, Any]:
    """The ArgoSettings of @schedule and @trigger: the flow's decorators, resolved
    for this branch, and the profile's [argo] keys (``create`` options first)."""
    from grange.decorators.triggers import schedule_of, triggers_of

    argo = deployment.profile.argo
    out: dict[str, Any] = {
        "schedule": schedule_of(deployment.flow.flow_cls),
        "triggers": triggers_of(deployment.flow.flow_cls, info),
        "concurrency_policy": options.get("concurrency_policy")
        or argo.get("concurrency_policy", "Allow"),
        "sensor_service_account": argo.get("events_service_account"),
        "events_webhook_url": os.environ.get("GRANGE_ARGO_EVENTS_WEBHOOK_URL")
        or argo.get("events_webhook_url"),
    }
    for key, field in (
        ("starting_deadline_seconds", "starting_deadline_seconds"),
        ("successful_jobs_history_limit", "successful_history"),
        ("failed_jobs_history_limit", "failed_history"),
    ):
        if key in argo:
            out[field] = _count(argo[key], key)
    for key, field in (
        ("events_source", "event_source"),
        ("events_event", "event_name"),
        ("event_bus", "event_bus"),
    ):
        if argo.get(key):
            out[field] = str(argo[key])
    return out


TEMPLATE_LABEL = PREFIX + "workflow-template"


def owner_of(obj: dict[str, Any] | None) -> str | None:
    """The WorkflowTemplate a CronWorkflow or Sensor belongs to (its label), or None:
    no such object. ``""``: an object grange did not make."""
    if obj is None:
        return None
    return str(((obj.get("metadata") or {}).get("labels") or {}).get(TEMPLATE_LABEL) or "")


def check_owners(deployment: Deployment, name: str, manifests: Any) -> None:
    """Refuse to replace a CronWorkflow or Sensor of another deployment (or one grange
    did not make), before anything is applied."""
    for doc in manifests.documents()[1:]:
        kind, object_name = doc["kind"], doc["metadata"]["name"]
        owner = owner_of(deployment.cluster.get(kind, object_name))
        if owner is not None and owner != name:
            whose = f"the deployment {owner}" if owner else "something other than grange"
            raise CommandError(
                f"{kind} {object_name} in namespace {deployment.namespace} belongs to {whose}, "
                f"not to {name}: creating this deployment would replace it",
                fix=f"delete it first if it is stale (kubectl delete {kind.lower()} "
                f"{object_name}), or deploy under another name (--name)",
            )


def delete_owned(deployment: Deployment, kind: str, object_name: str, name: str) -> bool:
    """Delete ``kind`` ``object_name`` if it belongs to template ``name``; another
    deployment's is left alone, with a note. Whether it was deleted."""
    owner = owner_of(deployment.cluster.get(kind, object_name))
    if owner is None:
        return False
    if owner != name:
        whose = f"the deployment {owner}" if owner else "something other than grange"
        deployment.flow.say(f"{kind} {object_name} left alone: it belongs to {whose}.")
        return False
    return bool(deployment.cluster.delete(kind, object_name))


def remove_stale(
    deployment: Deployment, name: str, manifests: Any, previous: dict[str, Any] | None
) -> None:
    """A CronWorkflow or Sensor of an earlier deploy that the flow no longer asks for
    (its @schedule or @trigger removed) is deleted, not left to start runs. Called
    before the new template is applied: a failed deletion stops the deploy while the
    old template still lists the Sensor, so a redeploy tries again (never an orphan
    Sensor starting runs)."""
    if manifests.cron_workflow is None and delete_owned(deployment, "CronWorkflow", name, name):
        deployment.flow.say(f"CronWorkflow {name} deleted: the flow has no @schedule any more.")
    annotations = ((previous or {}).get("metadata") or {}).get("annotations") or {}
    current = {s["metadata"]["name"] for s in manifests.sensors}
    for old in json.loads(annotations.get(PREFIX + "sensors") or "[]"):
        if old not in current and delete_owned(deployment, "Sensor", old, name):
            deployment.flow.say(f"Sensor {old} deleted: the flow has no @trigger any more.")


def with_token_secret(kubernetes: dict[str, Any], argo: Any) -> dict[str, Any]:
    """The pods' [kubernetes] settings, with the Secret of the webhook's token
    (``[argo] events_webhook_token_secret``) among the Secrets every pod gets as
    environment variables: its ``GRANGE_EVENTS_TOKEN`` is what pods send as
    ``Authorization: Bearer`` when they publish (the end event, ``Event.publish``)."""
    name = argo.get("events_webhook_token_secret")
    if not name:
        return kubernetes
    given = kubernetes.get("secrets") or []
    secrets = [given] if isinstance(given, str) else list(given)
    return {**kubernetes, "secrets": list(dict.fromkeys([*secrets, str(name)]))}


def events_notes(deployment: Deployment, settings: Any) -> None:
    """What a deployment's events need that the profile does not give."""
    if settings.triggers is not None and not settings.sensor_service_account:
        deployment.flow.say(
            "Note: the Sensor runs as the namespace's default service account, which "
            "needs 'create' on workflows.argoproj.io; set [argo] events_service_account."
        )
    if settings.auto_emit_events and not settings.events_webhook_url and _sensors_here(deployment):
        deployment.flow.say(
            "Note: no [argo] events_webhook_url: runs will not publish their end events, "
            "so flows with @trigger_on_finish on this one will not start "
            "(see `argo-workflows event-source`)."
        )


def _sensors_here(deployment: Deployment) -> bool:
    """Whether grange Sensors wait for events in the namespace (so that a deployment
    without a webhook URL, whose runs publish no end event, is worth a note)."""
    from grange.exceptions import KubernetesError

    try:
        return bool(
            deployment.cluster.list("Sensor", label_selector="app.kubernetes.io/part-of=grange")
        )
    except KubernetesError:  # Argo Events not installed (or not readable): no Sensor waits
        return False


def event_source(deployment: Deployment, *, apply: bool, as_json: bool) -> None:
    """The webhook EventSource of the convention, printed or created."""
    from grange.deploy.argo.event_source import event_source, webhook_url
    from grange.deploy.argo.manifests import Manifests

    argo = deployment.profile.argo
    name = str(argo.get("events_source") or "grange-events")
    secret = argo.get("events_webhook_token_secret")
    doc = event_source(
        name,
        str(argo.get("events_event") or "grange-event"),
        deployment.namespace,
        str(argo.get("event_bus") or "default"),
        token_secret=str(secret) if secret else None,
    )
    if not secret:
        deployment.flow.say(
            "Warning: this webhook takes events from anyone who reaches it, and an event "
            "starts the flows that wait for it: set [argo] events_webhook_token_secret to "
            "a Secret holding GRANGE_EVENTS_TOKEN (docs/argo.md, 'Securing the webhook')."
        )
    url = webhook_url(name, deployment.namespace)
    if not apply:
        click.echo(json.dumps(doc, indent=2) if as_json else Manifests(doc).to_yaml())
        deployment.flow.say(f"Pods reach it at {url} (set [argo] events_webhook_url to it).")
        return
    _, replaced = deployment.cluster.apply(doc)
    deployment.flow.say(
        f"EventSource {name} {'updated' if replaced else 'created'} in namespace "
        f'{deployment.namespace}. Set [argo] events_webhook_url = "{url}".'
    )


def _count(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CommandError(
            f"[argo] {key} = {value!r} is not a whole number of 0 or more",
            fix=f"set e.g. [argo] {key} = 10",
        )
    return value


def delete_deployment(
    deployment: Deployment,
    branch: str | None,
    production: bool,
    *,
    authorize: str | None,
    if_exists: bool,
) -> None:
    """``argo-workflows delete``: the template, its CronWorkflow and its Sensors. A
    deployment that does not exist is an error, as Metaflow's; with ``if_exists``
    (grange's addition, for CI removing a closed pull request's branch) it is not."""
    from grange.cli.argo_tokens import identity

    name = deployment.template_name(branch, production)
    info = deployment.project(branch, production)
    if info is not None and info.is_production:  # as a --production run or deploy
        deployment.check_production("delete")
    say, namespace = deployment.flow.say, deployment.namespace
    existing = deployment.cluster.get("WorkflowTemplate", name)
    if existing is None:
        if if_exists:
            say(f"No deployment {name} in namespace {namespace}: nothing to delete.")
            return
        raise CommandError(
            f"no deployment {name} in namespace {namespace}",
            fix="check the name (argo-workflows list-workflow-templates) and the branch; "
            "--if-exists makes a missing deployment no error",
        )
    mine = identity(deployment.flow.flow_name, info)
    deployment.tokens.check_owner(existing, name, authorize, mine, verb="delete")
    annotations = existing["metadata"].get("annotations") or {}
    deleted = []
    if delete_owned(deployment, "CronWorkflow", name, name):
        deleted.append(f"CronWorkflow {name}")
    for sensor in json.loads(annotations.get(PREFIX + "sensors", "[]") or "[]"):
        if delete_owned(deployment, "Sensor", sensor, name):
            deleted.append(f"Sensor {sensor}")
    deployment.cluster.delete("WorkflowTemplate", name)
    deleted.append(f"WorkflowTemplate {name}")
    say("Deleted " + ", ".join(deleted) + ". Runs already started go on.")


def require_values(flow_cls: type, info: Any, given: set[str]) -> None:
    """Refuse a deployment in which a required parameter could get no value: nothing
    given to ``create``, and no event that maps it (``trigger --NAME`` may still give
    one to a flow without schedule or trigger, as Metaflow allows)."""
    from grange.decorators.triggers import require_parameter_values, schedule_of, triggers_of

    require_parameter_values(
        flow_cls,
        triggers_of(flow_cls, info),
        schedule_of(flow_cls),
        given,
        command="argo-workflows create",
        manual_values=True,
    )
