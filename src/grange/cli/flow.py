"""A flow's own command line: ``python flow.py [OPTIONS] COMMAND [ARGS]``.

``FlowSpec()`` in a flow file calls :func:`run_flow_cli`, which builds the
group for the flow class (:func:`build_flow_cli`) and runs it on
``sys.argv``. The top-level options become a :class:`Settings` that every
command reads from its :class:`FlowContext`. With no command, ``check`` runs,
as in Metaflow.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from grange.cli.commands import LazyGroup
from grange.cli.context import FlowContext, Settings
from grange.cli.errors import debug_option
from grange.cli.event_option import one_event_name
from grange.cli.options import profile_option

if TYPE_CHECKING:
    from grange.flowspec import FlowSpec

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def run_flow_cli(flow_cls: type[FlowSpec], argv: Sequence[str] | None = None) -> None:
    """Run the command line of ``flow_cls`` on ``argv`` (default ``sys.argv[1:]``).

    Ends the process (``SystemExit``) with the command's exit status.
    """
    group = build_flow_cli(flow_cls)
    group.main(args=None if argv is None else list(argv), prog_name=_prog_name(flow_cls))


def build_flow_cli(flow_cls: type[FlowSpec]) -> click.Group:
    """The click group of ``flow_cls``: top-level options and every registered command."""
    flow_file = _flow_file(flow_cls)
    from grange.cli.configs import bind_for_command, config_options

    @click.group(
        cls=LazyGroup,
        flow_cls=flow_cls,
        before_command=lambda ctx, name: bind_for_command(ctx, flow_cls, name),
        invoke_without_command=True,
        context_settings=CONTEXT_SETTINGS,
        help=_group_help(flow_cls),
    )
    @debug_option
    @click.option(
        "--quiet/--not-quiet", default=False, help="Print results only: no hints or progress."
    )
    @click.option(
        "--datastore",
        type=click.Choice(["local", "s3"]),
        envvar="GRANGE_DATASTORE",
        help="Where artifacts are stored: 'local' (default) or 's3' (with an s3:// root).",
    )
    @click.option(
        "--datastore-root",
        metavar="PATH|URL",
        envvar="GRANGE_DATASTORE_ROOT",
        help="Where runs are stored: a directory or s3://bucket/prefix "
        "[default: .grange beside the flow file].",
    )
    @click.option(
        "--metadata",
        metavar="URL",
        envvar="GRANGE_METADATA",
        help="Metadata index: 'local' (SQLite under the datastore root) or a postgresql:// URL.",
    )
    @click.option(
        "--with",
        "with_decorators",
        multiple=True,
        metavar="DECORATOR",
        help="Add a decorator to every step, e.g. --with retry:times=3 (repeatable).",
    )
    @click.option("--namespace", metavar="NAME", help="Namespace that runs are read from.")
    @click.option(
        "--package-suffixes",
        metavar="SUFFIXES",
        envvar="GRANGE_PACKAGE_SUFFIXES",
        help="Comma-separated file suffixes that the code package holds besides .py "
        "files, e.g. .json,.yaml.",
    )
    @click.option(
        "--branch",
        metavar="NAME",
        envvar="GRANGE_BRANCH",
        help="@project flows: run or deploy on branch test.NAME (prod.NAME with --production) "
        "[default: user.<you>].",
    )
    @click.option(
        "--production",
        is_flag=True,
        envvar="GRANGE_PRODUCTION",
        help="@project flows: run or deploy on the production branch (prod).",
    )
    @click.option(
        "--trigger",
        "trigger_runs",
        multiple=True,
        metavar="FLOW/RUN",
        help="Run as if the end of this successful run triggered it (@trigger_on_finish; "
        "repeatable): current.trigger.run is that run.",
    )
    @click.option(
        "--trigger-event",
        multiple=True,
        callback=one_event_name,
        metavar="NAME",
        help="Run as if event NAME triggered it (@trigger): current.trigger.event, and the "
        "parameters it maps.",
    )
    @click.option(
        "--trigger-payload",
        multiple=True,
        metavar="KEY=VALUE|@FILE",
        help="A field of --trigger-event's payload (VALUE read as JSON, else as text; "
        "repeatable), or @file.json holding the payload.",
    )
    @click.option("--trigger-json", metavar="TEXT|@FILE", hidden=True)
    @click.option(
        "--environment",
        type=click.Choice(["local", "pypi", "conda"]),
        default="local",
        help="Accepted as Metaflow's: @pypi/@pypi_base and @conda/@conda_base alone put "
        "their steps in an environment; other steps run in this Python.",
    )
    @profile_option
    @click.pass_context
    def cli(
        ctx: click.Context,
        debug: bool,
        quiet: bool,
        datastore: str | None,
        datastore_root: str | None,
        metadata: str | None,
        with_decorators: tuple[str, ...],
        namespace: str | None,
        package_suffixes: str | None,
        branch: str | None,
        production: bool,
        trigger_runs: tuple[str, ...],
        trigger_event: str | None,
        trigger_payload: tuple[str, ...],
        trigger_json: str | None,
        environment: str,
        profile: str | None,
        config_files: tuple[tuple[str, str], ...] = (),
        config_texts: tuple[tuple[str, str], ...] = (),
    ) -> None:
        if ctx.invoked_subcommand is None:  # `check` by default: no command was built
            bind_for_command(ctx, flow_cls, None)
        branch, production = _project_options(ctx, flow_cls, branch, production)
        settings = Settings(
            debug=debug,
            quiet=quiet,
            datastore_root=datastore_root,
            datastore=datastore,
            metadata=metadata,
            with_decorators=tuple(with_decorators),
            namespace=namespace,
            profile=profile,
            package_suffixes=_suffixes(package_suffixes),
            branch=branch,
            production=production,
            trigger_runs=tuple(trigger_runs),
            trigger_event=trigger_event,
            trigger_payload=tuple(trigger_payload),
            trigger_json=trigger_json,
        )
        ctx.obj = FlowContext(flow_cls, settings, flow_file)
        if (branch is not None or production) and _configs_ready(flow_cls):
            ctx.obj.project()  # said now, whatever the command: no @project, a bad name
        if ctx.invoked_subcommand is None:
            _default_command(ctx, ctx.obj)

    cli.params.extend(config_options(flow_cls))
    return cli


def _configs_ready(flow_cls: type) -> bool:
    """False for ``resume`` of a flow with configs: bound later, from its origin run
    (its @project name may come from them)."""
    from grange.graph.configs import has_configs, is_bound

    return is_bound(flow_cls) or not has_configs(flow_cls)


def _suffixes(text: str | None) -> tuple[str, ...]:
    """``--package-suffixes``, checked now (``.py`` first, then the ones given)."""
    if not text:
        return ()
    from grange.environments.select import normalize_suffixes

    return normalize_suffixes([text])


def _project_options(
    ctx: click.Context, flow_cls: type, branch: str | None, production: bool
) -> tuple[str | None, bool]:
    """``--branch``/``--production``; from $GRANGE_BRANCH / $GRANGE_PRODUCTION (a CI job's
    setting) they are ignored by a flow without @project, as Metaflow ignores its own."""
    from grange.decorators.flow import flow_decorator

    if flow_decorator(flow_cls, "project") is not None:
        return branch, production
    env = click.core.ParameterSource.ENVIRONMENT
    if ctx.get_parameter_source("branch") is env:
        branch = None
    if ctx.get_parameter_source("production") is env:
        production = False
    return branch, production


def _default_command(ctx: click.Context, flow: FlowContext) -> None:
    group = ctx.command
    assert isinstance(group, click.Group)
    check = group.get_command(ctx, "check")
    assert check is not None
    ctx.invoke(check)
    flow.say(f"'{flow.command_line('--help')}' lists every command.")


def _flow_file(flow_cls: type) -> str:
    try:
        return os.path.abspath(inspect.getfile(flow_cls))
    except TypeError:
        return f"{flow_cls.__name__}.py"


def _prog_name(flow_cls: type) -> str:
    return os.path.basename(_flow_file(flow_cls))


def _group_help(flow_cls: type) -> str:
    doc = inspect.getdoc(flow_cls) if flow_cls.__doc__ else None
    about = doc.splitlines()[0] if doc else "A grange flow."
    return f"{flow_cls.__name__}: {about}\n\nWith no command, checks the flow."
