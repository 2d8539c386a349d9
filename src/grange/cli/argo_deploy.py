"""What ``argo-workflows`` does: :class:`Deployment`.

It gathers what the compiler needs (the graph, each step's options, the
profile's Kubernetes and Argo settings, the datastore, the code package, the
``@project`` branch), checks the profile's policy (a ``--production`` deploy,
the images), compiles (:mod:`grange.deploy.argo`) and talks to the cluster
(:mod:`grange.deploy.cluster`).

Ownership, as Metaflow's production tokens: the first ``create`` of a template
makes a token, stores it in the template's annotations and in
``~/.grange/tokens/``; a later ``create`` or ``delete`` of the same template
needs the same token (yours from that file, or ``--authorize TOKEN``), so one
user cannot overwrite another's deployment by deploying a flow of the same
name. ``--generate-new-token`` / ``--new-token`` take a deployment over.
"""

from __future__ import annotations

import json
import os
import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from grange.cli.argo_tokens import PREFIX, ProductionTokens, check_branch_label, identity
from grange.cli.context import FlowContext
from grange.cli.runtime_options import datastore_root, effective, metadata_url
from grange.config import DEPLOY_TOKEN_ENV
from grange.exceptions import CommandError
from grange.parameters import current_username

if TYPE_CHECKING:
    from grange.config import Effective
    from grange.deploy.cluster import ArgoCluster, ClusterSettings

RUN_PREFIX = "argo-"
# The keys of a profile's [argo] table (the [kubernetes] ones are compute's).
ARGO_SETTINGS = {
    "namespace": "the namespace of templates and runs (default: [kubernetes] namespace)",
    "service_account": "the service account of the deployed flows' pods",
    # @schedule and @trigger (grange.cli.argo_events, docs/argo.md)
    "concurrency_policy": "a CronWorkflow's overlapping runs: Allow (default), Forbid, Replace",
    "starting_deadline_seconds": "how late a missed cron tick may still start (default 3540)",
    "successful_jobs_history_limit": "finished Workflows of a schedule kept by Argo (default 10)",
    "failed_jobs_history_limit": "failed Workflows of a schedule kept by Argo (default 20)",
    "events_source": "the webhook EventSource of every event (default grange-events)",
    "events_event": "its one webhook event (default grange-event)",
    "event_bus": "the Argo Events EventBus (default 'default')",
    "events_service_account": "the Sensors' service account (needs create on workflows)",
    "events_webhook_url": "where pods publish events, e.g. the EventSource's service URL",
    "events_webhook_token_secret": "a Secret whose GRANGE_EVENTS_TOKEN the webhook requires",
}


class Deployment:
    """One flow's deployment on Argo, as the command line names it."""

    def __init__(self, flow: FlowContext, *, name: str | None, k8s_namespace: str | None) -> None:
        self.flow = flow
        self.explicit_name = name
        self.k8s_namespace = k8s_namespace
        self.user = current_username()

    # -- what every verb needs -------------------------------------------------
    @cached_property
    def profile(self) -> Effective:
        """The profile in force, its ``[kubernetes]`` and ``[argo]`` keys checked (a
        misspelt key must not pass silently as "not set")."""
        from grange.compute.kubernetes.settings import check_settings

        profile = effective(self.flow.settings)
        check_settings(profile.kubernetes)
        check_settings(profile.argo, known=ARGO_SETTINGS, table="argo")
        return profile

    @cached_property
    def cluster(self) -> ArgoCluster:
        from grange.deploy.cluster import ArgoCluster

        return ArgoCluster(self.cluster_settings)

    @cached_property
    def cluster_settings(self) -> ClusterSettings:
        from grange.deploy.cluster import ClusterSettings

        return ClusterSettings.from_profile(
            self.profile.kubernetes, self.profile.argo, self.k8s_namespace
        )

    @property
    def namespace(self) -> str:
        return self.cluster_settings.namespace

    def project(self, branch: str | None, production: bool) -> Any:
        """The @project facts of this deployment (None for a flow without @project)."""
        from grange.decorators.project import project_info

        settings = self.flow.settings
        branch = branch or settings.branch
        production = production or settings.production
        return project_info(
            self.flow.flow_cls, user=self.user, branch=branch, production=production
        )

    def template_name(self, branch: str | None = None, production: bool = False) -> str:
        from grange.deploy.argo import workflow_name

        info = self.project(branch, production)
        if info is not None and self.explicit_name:
            raise CommandError(
                "--name cannot name the deployment of a @project flow: its name comes from "
                "the project and branch, so that branches never overwrite each other",
                fix="leave out --name; use --branch NAME for a deployment of your own",
            )
        return workflow_name(
            self.flow.flow_name,
            project_flow_name=info.project_flow_name if info else None,
            explicit=self.explicit_name,
        )

    # -- create ------------------------------------------------------------------
    def create(self, options: dict[str, Any]) -> None:
        from dataclasses import asdict, replace

        from grange.cli.argo_events import (
            check_owners,
            event_settings,
            events_notes,
            remove_stale,
            require_values,
        )
        from grange.deploy.argo import ArgoSettings, compile_flow
        from grange.deploy.argo.include import store_include_files
        from grange.graph import lint
        from grange.runtime.run import step_options

        flow = self.flow
        only = "json" if options["only_json"] else "yaml" if options["only_yaml"] else None
        if options["notify_on_error"] or options["notify_on_success"]:
            raise CommandError(
                "--notify-on-error/--notify-on-success are not supported yet",
                fix="leave them out; watch runs with `argo-workflows status` or the Argo UI",
            )
        graph = flow.graph()
        lint.check(graph)
        for tag in options.get("tags") or ():
            if "{{" in tag or "}}" in tag:
                raise CommandError(
                    f"--tag {tag!r}: Argo would read '{{{{...}}}}' in it as a template expression",
                    fix="write the tag without double braces",
                )
        decospecs = tuple(flow.settings.with_decorators)
        steps = step_options(flow.flow_cls, graph, decospecs)
        info = self.project(options.get("branch"), options.get("production", False))
        production = bool(info and info.is_production) or bool(options.get("production"))
        if info is not None:
            check_branch_label(info, flow.say)
        deployer = self.check_production("deploy") if production else None
        root = datastore_root(flow.settings)
        if root.is_local and only is None:
            raise CommandError(
                f"the datastore {root} is a local directory: pods on a cluster cannot reach it",
                fix="deploy with an S3 datastore (--datastore-root s3://bucket/prefix, or a "
                "profile with one); --only-yaml still prints the manifests",
            )
        if root.is_local:
            flow.say(
                f"Warning: the datastore {root} is local: a cluster's pods could not reach it "
                "(fine for reading the manifests or running them with a local executor)."
            )
        name = self.template_name(options.get("branch"), options.get("production", False))
        token = None
        if only is None:  # --only-yaml/--only-json: no cluster
            found = self.cluster.get("WorkflowTemplate", name)
            token = self.tokens.for_create(found, name, options, identity(flow.flow_name, info))
        settings = ArgoSettings(
            **event_settings(self, options, info),
            name=name,
            namespace=self.namespace,
            image=options.get("image"),
            datastore_root=str(root),
            metadata=metadata_url(flow.settings),
            top_level_args=self._top_level_args(options),
            max_workers=options["max_workers"],
            workflow_timeout=options.get("workflow_timeout"),
            workflow_priority=options.get("workflow_priority"),
            foreach_batch_size=options["foreach_batch_size"],
            max_num_splits=options["max_num_splits"],
            env=self._pod_env(),
            kubernetes=self._pod_settings(),
            service_account=self.profile.argo.get("service_account")
            or self.profile.kubernetes.get("service_account"),
            project=asdict(info) if info else None,
            tags=list(options.get("tags") or ()),
            auto_emit_events=options["auto_emit_argo_events"],
            production=production,
            user=self.user,
        )
        self._check_images(steps, settings.pod_defaults())  # before anything is stored
        values, paths = self._given_values(options)
        require_values(flow.flow_cls, info, {*values, *paths})
        package = self._package(root)
        from grange.environments.podenv import locks_for_pods  # @pypi/@conda: locks for pods

        specs = {step: o.environment for step, o in steps.items()}
        environments, environment_env = locks_for_pods(
            specs, self.profile.environments, root, say=flow.say
        )
        from grange.deploy.argo.containers import env_image_warnings

        for warning in env_image_warnings(steps, settings.pod_defaults()):
            flow.say(warning)
        settings = replace(
            settings,
            package=package,
            include_files=store_include_files(flow.flow_cls, root.open(), paths),
            parameter_values=values,
            environments=environments,
            environment_env=environment_env,
        )
        manifests = compile_flow(flow.flow_cls, graph, steps, settings)
        if only == "json":
            click.echo(manifests.to_json())
            return
        if only == "yaml":
            click.echo(manifests.to_yaml())
            return
        template = manifests.workflow_template
        self.tokens.annotate(template, token, deployer)
        flow.say(f"Deploying {flow.flow_name} to Argo Workflows as {name} ...")
        previous = self.cluster.get("WorkflowTemplate", name)
        check_owners(self, name, manifests)
        remove_stale(self, name, manifests, previous)  # first: no orphan if it fails
        _, replaced = self.cluster.apply(template)
        for doc in manifests.documents()[1:]:
            self.cluster.apply(doc)
            flow.say(f"{doc['kind']} {doc['metadata']['name']} applied.")
        events_notes(self, settings)
        self.tokens.save(name, token)
        _write_attributes(options.get("deployer_attribute_file"), name, flow.flow_name)
        verb = "updated" if replaced else "created"
        flow.say(
            f"WorkflowTemplate {name} {verb} in namespace {self.namespace} "
            f"(code package {package.sha[:12]}).\n"
            f"Start a run with: {flow.command_line('argo-workflows trigger')}"
        )

    def event_source(self, *, apply: bool, as_json: bool) -> None:
        from grange.cli.argo_events import event_source

        event_source(self, apply=apply, as_json=as_json)

    def _given_values(self, options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The parameters given to ``create`` (the deployment's defaults) or ``trigger``,
        by name: values converted as ``run`` does, and the paths of IncludeFiles."""
        from grange.cli.params import option_dest
        from grange.parameters import flow_parameters

        values: dict[str, Any] = {}
        paths: dict[str, Any] = {}
        for param in flow_parameters(self.flow.flow_cls):
            raw = options.get(option_dest(param))
            if raw is None:
                continue
            if param.is_file:
                paths[param.name] = raw
            else:
                values[param.name] = param.convert(raw)
        return values, paths

    def _check_images(self, steps: dict[str, Any], defaults: dict[str, Any]) -> None:
        """Every step's image is one the profile's ``allowed_registries`` admits."""
        from grange.compute.kubernetes.pod import check_plan_image, plan_pod

        for step, options in steps.items():
            plan = plan_pod(step, options, command=["true"], defaults=defaults)
            check_plan_image(plan, self.profile.policy, step)

    def _package(self, root: Any) -> Any:
        from grange.environments.package import package_flow

        suffixes = self.flow.settings.package_suffixes
        return package_flow(self.flow.flow_file, root, self.flow.flow_name, tuple(suffixes))

    def _top_level_args(self, options: dict[str, Any]) -> list[str]:
        """The options every step of the deployment runs with: the @project branch
        (so that ``current.branch_name`` is the deployment's) and ``--with``."""
        settings = self.flow.settings
        args: list[str] = []
        branch = options.get("branch") or settings.branch
        if options.get("production") or settings.production:
            args.append("--production")
        if branch:
            args += ["--branch", branch]
        for spec in settings.with_decorators:
            args += ["--with", spec]
        if options.get("run_namespace"):
            args += ["--namespace", options["run_namespace"]]
        return args

    def _pod_settings(self) -> dict[str, Any]:
        """The profile's [kubernetes] table, and its @secrets default provider (a
        ``kubernetes`` one makes pods mount the Secrets that steps read)."""
        settings = dict(self.profile.kubernetes)
        provider = self.profile.secrets.as_dict().get("default_provider")
        if provider:
            settings["secrets_provider"] = provider
        from grange.cli.argo_events import with_token_secret

        return with_token_secret(settings, self.profile.argo)

    def _pod_env(self) -> dict[str, str]:
        """S3 settings the pods need (never credentials: those come from the cluster's
        service account or a Kubernetes secret)."""
        from grange.config.export import pod_env
        from grange.datastore.s3.settings import S3Settings

        env = S3Settings.from_env(os.environ, overrides=self.profile.s3_overrides()).as_env()
        env.update(pod_env(self.profile.profile_name, os.environ))
        from grange.cli.policy import secrets_policy

        secrets = secrets_policy(self.profile)
        if secrets is not None:  # the @secrets rules, as a local run gives its tasks
            env.update(secrets.as_env())
        env["GRANGE_USER"] = self.user
        return env

    # -- ownership ---------------------------------------------------------------
    @cached_property
    def tokens(self) -> ProductionTokens:
        listed = self.profile.policy.production_tokens or {}
        return ProductionTokens(
            self.namespace, self.flow.say, os.environ.get(DEPLOY_TOKEN_ENV), listed=listed
        )

    def check_production(self, action: str) -> str | None:
        """The profile's rules for the production branch (``allow_production_deploy``,
        ``production_tokens`` with ``$GRANGE_DEPLOY_TOKEN``), for ``action`` on it: as a
        ``--production`` run is refused, so are a deploy, a trigger and a delete. Returns
        the admitting machine token's name, which may then act on CI's deployments."""
        from grange.config import check_production_deploy

        admitted = check_production_deploy(
            self.profile.policy, action=action, token=self.tokens.machine_token
        )
        self.tokens.admitted = admitted
        return admitted

    # -- runs --------------------------------------------------------------------
    def trigger(self, options: dict[str, Any]) -> None:
        from grange.deploy.argo import trigger_workflow
        from grange.deploy.argo.include import store_include_files

        branch, production = options.get("branch"), options.get("production", False)
        name = self.template_name(branch, production)
        info = self.project(branch, production)
        if info is not None and info.is_production:
            self.check_production("trigger")
        template = self._deployed(name)
        self.tokens.check_same(template, name, identity(self.flow.flow_name, info))
        # Only what is given: the others keep the deployment's defaults (those given to
        # create, the stored IncludeFile files), whatever this machine has.
        values, paths = self._given_values(options)
        if paths:
            blobs = datastore_root(self.flow.settings).open()
            values.update(store_include_files(self.flow.flow_cls, blobs, paths, defaults=False))
        workflow = trigger_workflow(template, values, self.user)
        made = self.cluster.create(workflow)
        run_id = RUN_PREFIX + made["metadata"]["name"]
        if options.get("run_id_file"):
            Path(options["run_id_file"]).write_text(run_id)
        _write_attributes(options.get("deployer_attribute_file"), name, self.flow.flow_name,
                          run_id=run_id)  # fmt: skip
        click.echo(run_id)
        self.flow.say(
            f"Workflow {made['metadata']['name']} submitted from {name}. Follow it with: "
            f"{self.flow.command_line('argo-workflows status ' + run_id)}"
        )

    def status(self, run_id: str) -> None:
        workflow = self._workflow(run_id)
        click.echo(_phase(workflow))

    def terminate(self, run_id: str) -> None:
        """Stop the run now (``spec.shutdown: Terminate``). Argo then runs no exit
        handler, so the run's end is recorded here, in the datastore: it reads failed
        at once rather than running forever."""
        from grange.runtime.argo_task import finish_argo_run
        from grange.task.stores import TaskStores

        self._workflow(run_id)
        self.cluster.patch("Workflow", _workflow_name(run_id), {"spec": {"shutdown": "Terminate"}})
        stores = TaskStores(datastore_root(self.flow.settings).open(), self.flow.flow_name)
        written = finish_argo_run(stores, run_id, "Terminated", end=self.flow.graph().end)
        recorded = " and recorded as failed" if written else ""
        self.flow.say(f"Run {run_id} is being terminated{recorded}.")

    def suspend(self, run_id: str) -> None:
        self._workflow(run_id)
        self.cluster.patch("Workflow", _workflow_name(run_id), {"spec": {"suspend": True}})
        self.flow.say(f"Run {run_id} is suspended: no new task starts until unsuspend.")

    def unsuspend(self, run_id: str) -> None:
        self._workflow(run_id)
        self.cluster.patch("Workflow", _workflow_name(run_id), {"spec": {"suspend": None}})
        self.flow.say(f"Run {run_id} is no longer suspended.")

    def list_runs(self, *, branch: str | None, production: bool) -> None:
        name = self.template_name(branch, production)
        template = self.cluster.get("WorkflowTemplate", name)
        if template is not None:  # pr_12 must not list pr12's runs
            info = self.project(branch, production)
            self.tokens.check_same(template, name, identity(self.flow.flow_name, info))
        runs = self.cluster.list("Workflow", label_selector=f"{PREFIX}workflow-template={name}")
        runs.sort(key=lambda w: w.get("metadata", {}).get("creationTimestamp") or "")
        if not runs:
            self.flow.say(f"No runs of {name} in namespace {self.namespace}.")
        for workflow in runs:
            status = workflow.get("status") or {}
            click.echo(
                f"{RUN_PREFIX}{workflow['metadata']['name']}\t{_phase(workflow)}\t"
                f"{status.get('startedAt') or '-'}\t{status.get('finishedAt') or '-'}"
            )

    def delete(
        self,
        *,
        branch: str | None,
        production: bool,
        authorize: str | None,
        if_exists: bool = False,
    ) -> None:
        from grange.cli.argo_events import delete_deployment

        delete_deployment(self, branch, production, authorize=authorize, if_exists=if_exists)

    def list_templates(self, *, all_flows: bool) -> None:
        selector = "app.kubernetes.io/part-of=grange"
        for template in self.cluster.list("WorkflowTemplate", label_selector=selector):
            annotations = template["metadata"].get("annotations") or {}
            if all_flows or annotations.get(PREFIX + "flow-name") == self.flow.flow_name:
                click.echo(template["metadata"]["name"])

    def _deployed(self, name: str) -> dict[str, Any]:
        template = self.cluster.get("WorkflowTemplate", name)
        if template is None:
            raise CommandError(
                f"{self.flow.flow_name} is not deployed as {name} in namespace {self.namespace}",
                fix=f"deploy it first: {self.flow.command_line('argo-workflows create')}",
            )
        return template

    def _workflow(self, run_id: str) -> dict[str, Any]:
        name = _workflow_name(run_id)
        workflow = self.cluster.get("Workflow", name)
        if workflow is None:
            raise CommandError(
                f"no Argo run {run_id} in namespace {self.namespace}",
                fix="list the runs with `argo-workflows list-runs`",
            )
        flow = (workflow["metadata"].get("annotations") or {}).get(PREFIX + "flow-name")
        if flow not in (None, self.flow.flow_name):
            raise CommandError(f"the Argo run {run_id} is a run of {flow}, not of "
                               f"{self.flow.flow_name}")  # fmt: skip
        return workflow


def _workflow_name(run_id: str) -> str:
    if not run_id.startswith(RUN_PREFIX) or len(run_id) == len(RUN_PREFIX):
        raise CommandError(
            f"{run_id!r} is not the id of an Argo run",
            fix="Argo runs are named argo-<workflow name>, as `argo-workflows trigger` prints",
        )
    return run_id[len(RUN_PREFIX) :]


def _phase(workflow: dict[str, Any]) -> str:
    status = workflow.get("status") or {}
    phase = status.get("phase") or "Pending"
    if (workflow.get("spec") or {}).get("suspend") and phase == "Running":
        return "Suspended"
    return str(phase)


def _write_attributes(path: str | None, name: str, flow: str, **extra: str) -> None:
    if not path:
        return
    data = {"name": name, "flow_name": flow, "metadata": "local", **extra}
    try:
        Path(path).write_text(json.dumps(data))
    except OSError as err:
        print(f"cannot write {path}: {err}", file=sys.stderr)
