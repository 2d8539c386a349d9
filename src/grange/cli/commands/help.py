"""``help``: print the flow's command-line help, as ``--help`` does (Metaflow's verb)."""

from __future__ import annotations

import click


@click.command("help", help="Show every command and top-level option (same as --help).")
@click.pass_context
def help_command(ctx: click.Context) -> None:
    """Print the help of the enclosing command group."""
    parent = ctx.parent if ctx.parent is not None else ctx
    click.echo(parent.get_help())
