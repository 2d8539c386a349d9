"""The ``grange`` console script: ``grange [OPTIONS] COMMAND FLOW_FILE [ARGS]``.

Flow commands registered with ``for_flow_file=True`` (``check``, ``show``)
are offered here with the flow file as their first argument; they load the
flow without running the file's ``__main__`` block and then do exactly what
``python FLOW_FILE COMMAND`` does. The commands of :data:`TOP_LEVEL` need no
flow file (``grange runs`` reads the store of the current directory).
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from grange._version import __version__
from grange.cli.commands import COMMANDS, CommandEntry, LazyGroup
from grange.cli.context import Settings
from grange.cli.errors import debug_option
from grange.cli.flow import CONTEXT_SETTINGS
from grange.cli.loader import for_flow_file
from grange.cli.options import profile_option

TOP_LEVEL: tuple[CommandEntry, ...] = (
    CommandEntry("config", "config:config"),
    CommandEntry("db", "db:db"),
    CommandEntry("deployments", "deployments:deployments"),
    CommandEntry("events", "events:events"),
    CommandEntry("push", "push:push"),
    CommandEntry("runs", "runs:runs"),
    CommandEntry("scheduler", "scheduler:scheduler"),
    CommandEntry("ui", "ui:ui"),
)
"""Commands of the ``grange`` script alone, taking no FLOW_FILE (modules in ``commands/``)."""


def build_main_cli() -> click.Group:
    """The click group of the ``grange`` console script."""

    @click.group(
        cls=LazyGroup,
        entries=[*(entry for entry in COMMANDS if entry.for_flow_file), *TOP_LEVEL],
        wrap=for_flow_file,
        context_settings=CONTEXT_SETTINGS,
    )
    @click.version_option(
        __version__, "--version", prog_name="grange", message="%(prog)s %(version)s"
    )
    @debug_option
    @click.option(
        "--quiet/--not-quiet", default=False, help="Print results only: no hints or progress."
    )
    @profile_option
    @click.pass_context
    def grange(ctx: click.Context, debug: bool, quiet: bool, profile: str | None) -> None:
        """grange: ML workflows as Python classes.

        Flow files also have their own command line: python FLOW_FILE --help.
        'grange runs' lists the runs stored under the current directory.
        """
        ctx.obj = Settings(debug=debug, quiet=quiet, profile=profile)

    return grange


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``grange`` console script; ends the process."""
    build_main_cli().main(args=None if argv is None else list(argv), prog_name="grange")
