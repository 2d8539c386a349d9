"""``python flow.py deploy``: register the flow with the local scheduler (``grange scheduler``).

It checks the flow, stores its code package in the datastore (the files the
scheduler's runs will use, whatever happens to the directory afterwards),
resolves its ``@schedule`` and ``@trigger``/``@trigger_on_finish`` (upstream
flows on the same ``@project`` branch unless told otherwise) and stores the
deployment in the metadata database (:mod:`grange.events.deployments`).
Parameters given here become the deployment's values (``deploy --alpha 5``),
as ``argo-workflows create`` does; a value an event's payload maps to a
parameter wins over them. Deploying again replaces the deployment.
"""

from __future__ import annotations

import time
from typing import Any

import click

from grange.cli.context import FlowContext, pass_flow
from grange.cli.errors import GuardedCommand
from grange.cli.params import option_dest, parameter_options
from grange.events.deployments import CATCHUP, CONCURRENCY, DEFAULT_CATCHUP_LIMIT


def make_deploy_command(flow_cls: type) -> click.Command:
    """``deploy`` for ``flow_cls``, with one option per flow parameter."""

    @click.command(
        "deploy",
        cls=GuardedCommand,
        short_help="Deploy the flow to the local scheduler (grange scheduler).",
        help="Deploy the flow to the local scheduler: it then runs on its @schedule and when "
        "the events of its @trigger/@trigger_on_finish arrive (a flow with neither runs when "
        "triggered: grange deployments trigger NAME). Parameters given here (--<name> VALUE) "
        "are the deployment's values. Deploying again replaces the deployment.",
    )
    @click.option("--concurrency", type=click.Choice(CONCURRENCY), default="allow",
                  show_default=True,
                  help="A run due while one of this deployment runs: allow it, forbid it (a "
                  "cron tick is skipped, an event's run waits), or replace the running one.")  # fmt: skip
    @click.option("--catchup", type=click.Choice(CATCHUP), default="once", show_default=True,
                  help="Cron ticks missed while the scheduler was down: run the latest once, "
                  "all of them (up to --catchup-limit), or none.")  # fmt: skip
    @click.option("--catchup-limit", type=click.IntRange(min=1), default=DEFAULT_CATCHUP_LIMIT,
                  show_default=True, help="With --catchup all: at most this many missed ticks.")  # fmt: skip
    @click.option("--tag", "tags", multiple=True, metavar="TAG", help="A tag of every run.")
    @click.option("--branch", "deploy_branch", metavar="NAME",
                  help="Deploy to the @project branch test.NAME.")  # fmt: skip
    @click.option("--production", "deploy_production", is_flag=True,
                  help="Deploy to the @project production branch.")  # fmt: skip
    @pass_flow
    def deploy(flow: FlowContext, /, **options: Any) -> None:
        deploy_flow(flow, options)

    taken = {opt for param in deploy.params for opt in getattr(param, "opts", ())}
    clashes = []
    for option in parameter_options(flow_cls, envvar_prefix=None):
        if set(option.opts) & taken:
            clashes.append(option.opts[0])
        else:
            deploy.params.append(option)
    if clashes:
        from grange.exceptions import ParameterError

        def refuse(*_: Any, **__: Any) -> None:
            raise ParameterError(
                f"the flow's parameter {', '.join(clashes)} has the name of an option of "
                "`deploy`, so a value given there could not reach it",
                fix="rename the parameter, e.g. Parameter('run_tag', ...)",
            )

        deploy.callback = refuse
    return deploy


def parameter_words(flow_cls: type, options: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """The parameters given on the command line, checked, as the words of a ``run``."""
    from grange.parameters import flow_parameters

    words: dict[str, tuple[str, ...]] = {}
    for param in flow_parameters(flow_cls):
        raw = options.get(option_dest(param))
        if raw is None:
            continue
        if param.is_file:
            from grange.exceptions import ParameterError

            raise ParameterError(
                f"--{param.name} is an IncludeFile: a deployment cannot hold a file's contents yet",
                parameter=param.name,
                fix="leave it out (the run reads its default), or make it a plain Parameter",
            )
        param.convert(raw)  # a bad value is refused now, not at every run
        words[param.name] = (f"--{param.name}",) if param.is_flag else (f"--{param.name}", raw)
    return words


def _deployed_configs(flow_cls: type) -> dict[str, Any] | None:
    """The configs bound now (``--config``, defaults), which the deployment's runs use."""
    import json

    from grange.exceptions import CommandError
    from grange.runtime.configs import MAX_ENV_BYTES
    from grange.user_configs import bound_values

    values = bound_values(flow_cls)
    if values is not None and len(json.dumps(values)) > MAX_ENV_BYTES:
        raise CommandError(
            f"the flow's configs are {len(json.dumps(values)) // 1024} KiB of JSON: too big "
            f"for a deployment's runs (at most {MAX_ENV_BYTES // 1024} KiB)",
            fix="keep large data out of configs: read it in a step and keep the config small",
        )
    return values


def check_run_tags(tags: tuple[str, ...], profile: Any) -> None:
    """Refuse now the tags that ``run`` would refuse at every run: empty, too long,
    in a system tag's form, too many, or against the profile's policy."""
    from grange.config import check_tags as check_policy_tags
    from grange.metastore.tags import check_tag_count, check_tags, check_user_tags

    checked = check_tags(tags)
    check_user_tags(checked, frozenset())
    check_tag_count(checked)
    check_policy_tags(profile.policy, tags)


def deploy_flow(flow: FlowContext, options: dict[str, Any]) -> None:
    from grange.cli.commands.deployments import open_store, when
    from grange.cli.runtime_options import datastore_root, effective, metadata_url
    from grange.config import mask_text
    from grange.decorators.triggers import require_parameter_values, schedule_of, triggers_of
    from grange.environments.package import package_flow
    from grange.events.deployments import Deployments, DeploymentSpec, Policies, Storage
    from grange.events.scheduler.cron import check_cron, next_tick
    from grange.events.store import EventStore
    from grange.graph import lint
    from grange.metastore.urls import mask_url
    from grange.parameters import current_username, flow_parameters

    lint.check(flow.graph())
    branch = options.get("deploy_branch") or flow.settings.branch
    production = bool(options.get("deploy_production")) or flow.settings.production
    project = flow.project(
        branch=options.get("deploy_branch"), production=bool(options.get("deploy_production"))
    )
    if project is not None and project.is_production:  # as argo-workflows create
        import os

        from grange.config import DEPLOY_TOKEN_ENV, check_production_deploy

        policy = effective(flow.settings).policy
        check_production_deploy(policy, token=os.environ.get(DEPLOY_TOKEN_ENV))
    schedule = schedule_of(flow.flow_cls)
    triggers = triggers_of(flow.flow_cls, project)
    now = time.time()
    if schedule is not None:
        check_cron(schedule.cron, schedule.timezone, now=now)
    if triggers is not None and triggers.reset_at is not None:
        check_cron(triggers.reset_at.cron, triggers.reset_at.timezone, now=now)
    tags = tuple(options.get("tags") or ())
    check_run_tags(tags, effective(flow.settings))
    policies = Policies(concurrency=options["concurrency"], catchup=options["catchup"],
                        catchup_limit=options["catchup_limit"])  # fmt: skip
    words = parameter_words(flow.flow_cls, options)
    require_parameter_values(flow.flow_cls, triggers, schedule, set(words), command="deploy")
    root = datastore_root(flow.settings)
    url = metadata_url(flow.settings)
    hidden = mask_text(url) != url
    store, _ = open_store(flow.settings)
    events_after = EventStore(store).last_seq()  # every later event counts for it
    package = package_flow(flow.flow_file, root, flow.flow_name,
                           tuple(flow.settings.package_suffixes))  # fmt: skip
    user = current_username()
    spec = DeploymentSpec(
        name=project.project_flow_name if project is not None else flow.flow_name,
        flow=flow.flow_name,
        package=package,
        storage=Storage(
            datastore_root=str(root),
            metadata=mask_url(url),
            profile=effective(flow.settings).profile_name,
        ),
        schedule=schedule,
        triggers=triggers,
        parameters=words,
        parameter_names=tuple(p.name for p in flow_parameters(flow.flow_cls)),
        tags=tags,
        branch=branch if project is not None else None,
        production=production if project is not None else False,
        with_decorators=tuple(flow.settings.with_decorators),
        policies=policies,
        flow_file=flow.flow_file,
        user=user,
        events_after=events_after,
        configs=_deployed_configs(flow.flow_cls),
    )
    before = Deployments(store).save(spec, user=user, now=now)
    verb = "Deployed"
    if before is not None:
        verb = "Redeployed"
        if before.spec.flow_file and before.spec.flow_file != flow.flow_file:
            flow.say(f"Warning: this replaces the deployment of {before.spec.flow_file}.")
    click.echo(spec.name)
    lines = [f"{verb} {flow.flow_name} as {spec.name} (code package {package.sha[:12]}); "
             f"it runs {spec.describe_when()}."]  # fmt: skip
    if schedule is not None:
        lines.append(f"Next run: {when(next_tick(schedule.cron, schedule.timezone, now))}.")
    if spec.manual_only:
        lines.append("It has neither @schedule nor @trigger: start a run with "
                     f"`grange deployments trigger {spec.name}`.")  # fmt: skip
    if before is not None and before.paused:
        lines.append(f"It is paused: `grange deployments resume {spec.name}` resumes it.")
    if hidden:
        lines.append("The metadata URL holds a password: run the scheduler on the same "
                     "database (its GRANGE_METADATA or profile); it gives its runs the URL "
                     "in their environment.")  # fmt: skip
    lines.append("The local scheduler runs it: grange scheduler "
                 "(`grange deployments list` shows every deployment).")  # fmt: skip
    for line in lines:
        flow.say(line)
