"""The commands of a flow's command line, one module per verb, loaded on demand.

:data:`COMMANDS` is the registry. Adding a verb means writing its module here
(a click command reading the flow with ``grange.cli.context.pass_flow``) and
adding one :class:`CommandEntry` line; no other module changes. A command's
module is imported only when the command runs or ``--help`` lists it, so
``python flow.py step ...`` pays for no other command's imports.

An entry with ``for_flow_file=True`` is also a command of the ``grange``
console script, as ``grange NAME FLOW_FILE [--flow NAME]``.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import click

from grange.cli.errors import GuardedGroup

#: ``ctx.meta`` key: the arguments after the command's name (``before_command`` reads
#: them, e.g. for ``--help``).
COMMAND_ARGS = "grange.command_args"


@dataclass(frozen=True)
class CommandEntry:
    """A command as typed (``name``), and where its click command lives.

    ``target`` is ``"module:attribute"`` relative to this package; the
    attribute is a click command, or a function of the flow class returning
    one (for commands whose options depend on the flow, like ``run``).
    """

    name: str
    target: str
    for_flow_file: bool = False

    def load(self, flow_cls: type | None = None) -> click.Command:
        """Import the command's module and return its click command."""
        module_name, _, attribute = self.target.partition(":")
        module = importlib.import_module(f"{__name__}.{module_name}")
        command = getattr(module, attribute)
        if not isinstance(command, click.Command) and callable(command) and flow_cls is not None:
            command = command(flow_cls)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command


COMMANDS: tuple[CommandEntry, ...] = (
    CommandEntry("_fork-server", "fork_server:fork_server"),
    CommandEntry("argo-finish", "argo_finish:argo_finish"),
    CommandEntry("argo-workflows", "argo:make_argo_group"),
    CommandEntry("card", "card:card"),
    CommandEntry("check", "check:check", for_flow_file=True),
    CommandEntry("deploy", "deploy:make_deploy_command"),
    CommandEntry("dump", "dump:dump"),
    CommandEntry("help", "help:help_command"),
    CommandEntry("logs", "logs:logs"),
    CommandEntry("output-dot", "show:output_dot"),
    CommandEntry("package", "package:package"),
    CommandEntry("resume", "run:make_resume_command"),
    CommandEntry("run", "run:make_run_command"),
    CommandEntry("show", "show:show", for_flow_file=True),
    CommandEntry("spin", "spin:spin"),
    CommandEntry("step", "step:step"),
    CommandEntry("tag", "tag:tag"),
    CommandEntry("version", "version:version"),
)


class LazyGroup(GuardedGroup):
    """A guarded click group whose subcommands come from registry entries.

    ``wrap`` adapts each loaded command of an entry with ``for_flow_file``
    (the ``grange`` script uses it to add the ``FLOW_FILE`` argument); other
    entries are used as they are. Unknown commands get a "Did you mean" hint.
    """

    def __init__(
        self,
        *args: Any,
        entries: Sequence[CommandEntry] = COMMANDS,
        wrap: Callable[[click.Command], click.Command] | None = None,
        flow_cls: type | None = None,
        before_command: Callable[[click.Context, str], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.entries = {entry.name: entry for entry in entries}
        self.wrap = wrap
        self.flow_cls = flow_cls
        # Called with the group's options parsed, before the command is built (a flow's
        # configs are bound there: `run`'s options read them).
        self.before_command = before_command

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.entries, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        entry = self.entries.get(cmd_name)
        if entry is None:
            return None
        command = entry.load(self.flow_cls)
        return self.wrap(command) if self.wrap is not None and entry.for_flow_file else command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        known = self.list_commands(ctx)
        if name and not name.startswith("-") and name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            ctx.fail(f"No such command '{name}'.{hint}")
        if self.before_command is not None and name in known:
            ctx.meta[COMMAND_ARGS] = list(args)
            self.before_command(ctx, name)
        return super().resolve_command(ctx, args)
