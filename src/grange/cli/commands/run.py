"""``run`` and ``resume``: start a run of the flow on this machine.

Both commands are built per flow class, because ``run`` takes the flow's
parameters as options (``--alpha 0.3``). They only gather options: the
runtime (:mod:`grange.runtime`) does the work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from grange.cli.context import FlowContext, pass_flow
from grange.cli.errors import GuardedCommand
from grange.cli.params import parameter_options, parameter_values
from grange.cli.runtime_options import build_request, run_project
from grange.cli.trigger_options import (
    check_events,
    explicit_or_event,
    restated,
    trigger_events,
    with_run_options,
)
from grange.cli.trigger_options import given as trigger_given
from grange.cli.trigger_options import run_options as run_trigger_options
from grange.decorators.triggers import parameters_from_events
from grange.exceptions import CommandError, ParameterError

DEFAULT_MAX_WORKERS = 16
DEFAULT_MAX_NUM_SPLITS = 100_000


def _common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--tag",
            "tags",
            multiple=True,
            metavar="TAG",
            help="Add a user tag to the run (repeatable).",
        ),
        click.option(
            "--max-workers",
            type=click.IntRange(min=1),
            default=DEFAULT_MAX_WORKERS,
            show_default=True,
            envvar="GRANGE_MAX_WORKERS",
            help="Run at most this many tasks at once.",
        ),
        click.option(
            "--max-num-splits",
            type=click.IntRange(min=1),
            default=DEFAULT_MAX_NUM_SPLITS,
            show_default=True,
            envvar="GRANGE_MAX_NUM_SPLITS",
            help="Refuse a foreach over more items than this.",
        ),
        click.option(
            "--run-id-file", metavar="FILE", help="Write the run id to FILE once the run starts."
        ),
        click.option(
            "--with",
            "with_decorators",
            multiple=True,
            metavar="DECORATOR",
            help="Add a step decorator to every step that lacks it, e.g. --with retry or "
            "--with retry:times=5,minutes_between_retries=0 (repeatable).",
        ),
        click.option(
            "--namespace",
            "run_namespace",
            metavar="NAME",
            help="Namespace that client calls inside the steps read from.",
        ),
        click.option(
            "--no-fork",
            is_flag=True,
            envvar="GRANGE_NO_FORK",
            help="Start every task in a fresh Python interpreter instead of forking "
            "a pre-warmed one (slower; for libraries that break after fork).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _branch_options(flow_cls: type) -> list[click.Option]:
    """``--branch``/``--production`` after the command too, for a ``@project`` flow whose
    parameters leave those names free (they are top-level options in Metaflow, so a
    parameter may be called ``branch``: then only the top-level option chooses it)."""
    from grange.decorators.flow import flow_decorator
    from grange.parameters import flow_parameters, normalized_name

    taken = {normalized_name(p.name) for p in flow_parameters(flow_cls)}
    if flow_decorator(flow_cls, "project") is None or taken & {"branch", "production"}:
        return []
    return [
        click.Option(
            ["--branch", "run_branch"],
            metavar="NAME",
            help="The run belongs to branch test.NAME of the @project (prod.NAME with "
            "--production); as the top-level --branch.",
        ),
        click.Option(
            ["--production", "run_production"],
            is_flag=True,
            help="The run belongs to the @project's production branch; as the top-level "
            "--production.",
        ),
    ]


def make_run_command(flow_cls: type) -> click.Command:
    """``run`` for ``flow_cls``, with one option per flow parameter."""

    @click.command(
        "run",
        cls=GuardedCommand,
        short_help="Run the flow on this machine.",
        help="Run the flow on this machine: every task in its own process, up to "
        "--max-workers at once, every artifact and log stored under the datastore root. "
        "Flow parameters are options: --<name> VALUE.",
    )
    @_common_options
    @pass_flow
    def run(flow: FlowContext, /, **options: Any) -> None:
        if options.pop("open_ui", False):
            options["run_id_file"] = _open_ui(flow, options.get("run_id_file"))
        project = run_project(flow, options)  # before the parameters' default functions
        flow = with_run_options(flow, options)
        events = trigger_events(flow)
        from_events: set[str] = set()
        if events:
            triggers = check_events(flow, events, project)
            if triggers is not None:
                mapped = parameters_from_events(flow.flow_cls, triggers, events)
                options, from_events = explicit_or_event(flow, options, mapped)
        try:
            values = parameter_values(flow.flow_cls, options)
        except ParameterError as err:
            if err.parameter not in from_events:
                raise
            raise restated(err, err.parameter) from None
        request = build_request(
            flow,
            options,
            project=project,
            parameters=values,
            resume=False,
            trigger=[e.to_dict() for e in events] or None,
        )
        from grange.runtime import execute

        raise SystemExit(execute(request))

    run.params.extend(parameter_options(flow_cls))
    run.params.extend(_branch_options(flow_cls))
    run.params.extend(run_trigger_options(flow_cls))
    run.params.extend(_ui_options(flow_cls))
    return run


def _ui_options(flow_cls: type) -> list[click.Option]:
    """``--ui``, unless a parameter of the flow takes that name (it yields, as --trigger)."""
    from grange.parameters import flow_parameters, normalized_name

    taken = {normalized_name(p.name) for p in flow_parameters(flow_cls)}
    if taken & {"ui", "open_ui"}:
        return []
    return [
        click.Option(
            ["--ui", "open_ui"],
            is_flag=True,
            help="Print the run's page in grange ui and open it in a browser (a grange ui "
            "for this store is started in the background if none answers; see docs/ui.md).",
        )
    ]


def _open_ui(flow: FlowContext, run_id_file: str | None) -> str:
    """Start the process that opens the run's page once the run has its id (grange.ui.opener)."""
    import os

    from grange.cli.runtime_options import datastore_root, effective, metadata_url
    from grange.ui.fingerprint import store_fingerprint
    from grange.ui.opener import start
    from grange.ui.settings import TOKEN_ENV, read_settings

    profile = effective(flow.settings)
    settings, _ = read_settings(profile.ui)
    env = {**os.environ, **profile.child_env()}
    if settings.token:
        env[TOKEN_ENV] = settings.token
    # The store through the environment: a database password stays out of command lines.
    root = datastore_root(flow.settings)
    env["GRANGE_DATASTORE_ROOT"] = str(root)
    url = metadata_url(flow.settings)
    if url and url != "local":
        env["GRANGE_METADATA"] = url
    return start(
        flow=flow.flow_name,
        run_id_file=run_id_file,
        url=settings.url("").rstrip("/"),
        store_args=[],
        fingerprint=store_fingerprint(root, url),
        env=env,
    )


def make_resume_command(flow_cls: type) -> click.Command:
    """``resume [STEP]``: a new run reusing what the origin run did successfully."""

    @click.command(
        "resume",
        cls=GuardedCommand,
        short_help="Re-run a failed run from where it failed.",
        help="Start a new run that reuses every successful task of the origin run (the latest "
        "run by you, or --origin-run-id) and runs the rest. With STEP, that step and every "
        "step after it run again. A run still running is refused unless --force.",
    )
    @click.argument("step", required=False)
    @click.option(
        "--origin-run-id", metavar="RUN_ID", help="The run to resume [default: your latest run]."
    )
    @click.option(
        "--force",
        is_flag=True,
        help="Resume the origin run even if it is still running (its tasks may then run twice).",
    )
    @_common_options
    @pass_flow
    def resume(
        flow: FlowContext, /, step: str | None, origin_run_id: str | None, **options: Any
    ) -> None:
        if trigger_given(flow.settings):
            raise CommandError(
                "resume keeps the origin run's trigger events, as it keeps its parameters; "
                "--trigger, --trigger-event and --trigger-json apply to run",
                fix="leave them out, or start a new run with them: "
                + flow.command_line("--trigger ... run"),
            )
        from grange.cli.origin_configs import bind_origin_configs

        # Before @project's branch: its name may come from the origin run's configs.
        bind_origin_configs(flow, origin_run_id)
        if options.pop("open_ui", False):
            options["run_id_file"] = _open_ui(flow, options.get("run_id_file"))
        request = build_request(
            flow,
            options,
            project=run_project(flow, options),
            parameters={},
            resume=True,
            origin_run_id=origin_run_id,
            resume_step=step,
        )
        from grange.runtime import execute

        raise SystemExit(execute(request))

    resume.params.extend(_branch_options(flow_cls))
    resume.params.extend(_ui_options(flow_cls))
    return resume
