"""What every command receives: the :class:`Settings` of the command line and
the :class:`FlowContext` of the flow it works on.

Both are built when a command line is parsed (environment variables are read
then, by click, never when a module is imported) and travel in ``ctx.obj``.
A command asks for the flow with the :data:`pass_flow` decorator.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from grange.decorators.project import ProjectInfo
    from grange.flowspec import FlowSpec
    from grange.graph import FlowGraph


@dataclass(frozen=True)
class Settings:
    """The top-level options of a command line, shared by every command.

    ``datastore_root``, ``metadata``, ``with_decorators`` and ``namespace``
    are recorded for the commands that run or read flows (``run``, ``resume``,
    ``step``, ``logs``, ``dump``, ...); ``None`` means "the default".
    ``profile`` is ``--profile`` (the configuration file is read only by the
    commands that need it: ``grange.cli.runtime_options.effective``).
    ``branch`` and ``production`` are ``--branch NAME`` and ``--production``: the
    branch of a ``@project`` flow that runs and deployments belong to. The
    ``trigger_*`` fields are the events given to a run, as written (read by ``run``).
    """

    debug: bool = False
    quiet: bool = False
    datastore_root: str | None = None
    metadata: str | None = None
    datastore: str | None = None  # "local" or "s3"; None: from the root given
    with_decorators: tuple[str, ...] = ()
    namespace: str | None = None
    profile: str | None = None
    package_suffixes: tuple[str, ...] = ()  # --package-suffixes, besides .py
    branch: str | None = None
    production: bool = False
    # The events a run is given (grange.cli.trigger_options): --trigger FLOW/RUN,
    # --trigger-event NAME with --trigger-payload k=v|@file, --trigger-json TEXT|@FILE.
    trigger_runs: tuple[str, ...] = ()
    trigger_event: str | None = None
    trigger_payload: tuple[str, ...] = ()
    trigger_json: str | None = None


@dataclass(frozen=True)
class FlowContext:
    """The flow a command works on, how the user reached it, and the settings.

    ``via_grange`` is true under ``grange COMMAND FLOW_FILE`` and false under
    ``python FLOW_FILE COMMAND``; hints printed to the user follow the same form.
    """

    flow_cls: type[FlowSpec]
    settings: Settings
    flow_file: str
    via_grange: bool = False
    flow_option: str | None = None

    @property
    def flow_name(self) -> str:
        """The flow's name: its class name."""
        return self.flow_cls.__name__

    def graph(self) -> FlowGraph:
        """The flow's static graph (read once per class, then cached)."""
        from grange.graph import graph_of

        return graph_of(self.flow_cls)

    def project(self, *, branch: str | None = None, production: bool = False) -> ProjectInfo | None:
        """Where the flow's runs belong (``@project``), from ``--branch``/``--production``
        given before the command or, with ``branch``/``production``, after it."""
        from grange.cli.project import resolve_project

        return resolve_project(self, branch=branch, production=production)

    def command_line(self, command: str) -> str:
        """How the user runs ``command`` on this flow, e.g. ``python flow.py show``."""
        path = display_path(self.flow_file)
        profile = f"--profile {self.settings.profile} " if self.settings.profile else ""
        if not self.via_grange:
            if self.settings.branch is not None:
                profile += f"--branch {self.settings.branch} "
            if self.settings.production:
                profile += "--production "
            return f"python {path} {profile}{command}".rstrip()
        flow = f" --flow {self.flow_option}" if self.flow_option else ""
        return f"grange {profile}{command} {path}{flow}"

    def say(self, message: str) -> None:
        """Print a hint or progress line on stderr, unless ``--quiet``."""
        if not self.settings.quiet:
            click.echo(message, err=True)


def store_settings(
    datastore: str | None, datastore_root: str | None, metadata: str | None
) -> Settings:
    """The store options of a ``grange`` command (``db``, ``runs``, ``events``,
    ``deployments``, ``scheduler``), under the top-level ``--profile``, ``--debug``
    and ``--quiet``."""
    ctx = click.get_current_context(silent=True)
    base = (ctx.find_object(Settings) if ctx is not None else None) or Settings()
    return Settings(
        debug=base.debug,
        quiet=base.quiet,
        datastore=datastore,
        datastore_root=datastore_root,
        metadata=metadata,
        profile=base.profile,
    )


pass_flow = click.make_pass_decorator(FlowContext)
"""Decorate a command callback to receive the :class:`FlowContext` first."""


def display_path(path: str) -> str:
    """``path`` relative to the working directory when it lies under it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel
