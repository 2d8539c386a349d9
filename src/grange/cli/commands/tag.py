"""``tag add|remove|replace|list``: change and show the tags of a run.

Every subcommand works on ``--run-id`` or, without it, on the flow's latest
run in your namespace (``user:<you>``, or the top-level ``--namespace``). Only
user tags change; system tags (``user:``, ``runtime:``, ...) are set when a run
starts, and removing one is an error. After a change the run's tags are printed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from grange.cli.context import FlowContext, pass_flow
from grange.cli.errors import GuardedGroup
from grange.cli.reading import connect, find_run
from grange.exceptions import CommandError

if TYPE_CHECKING:
    from grange.client import Run

_RUN_ID = click.option(
    "--run-id", metavar="RUN_ID", help="The run to tag [default: the latest run of the flow]."
)


@click.group(
    cls=GuardedGroup,
    short_help="Add, remove, replace or list the tags of a run.",
    help="Add, remove, replace or list the user tags of a run (by default the latest "
    "run of the flow in your namespace).",
)
def tag() -> None:
    """The ``tag`` commands."""


@tag.command("add", help="Add user tags to a run.")
@click.argument("tags", nargs=-1, required=True)
@_RUN_ID
@pass_flow
def add(flow: FlowContext, tags: tuple[str, ...], run_id: str | None) -> None:
    run = _run(flow, run_id)
    run.add_tags(tags)
    _show(flow, run)


@tag.command("remove", help="Remove user tags from a run (removing an absent tag does nothing).")
@click.argument("tags", nargs=-1, required=True)
@_RUN_ID
@pass_flow
def remove(flow: FlowContext, tags: tuple[str, ...], run_id: str | None) -> None:
    run = _run(flow, run_id)
    run.remove_tags(tags)
    _show(flow, run)


@tag.command("replace", help="Remove and add user tags in one change (removals first).")
@click.option("--add", "to_add", multiple=True, metavar="TAG", help="A tag to add (repeatable).")
@click.option(
    "--remove", "to_remove", multiple=True, metavar="TAG", help="A tag to remove (repeatable)."
)
@_RUN_ID
@pass_flow
def replace(
    flow: FlowContext, to_add: tuple[str, ...], to_remove: tuple[str, ...], run_id: str | None
) -> None:
    if not to_add and not to_remove:
        raise CommandError(
            "nothing to replace", fix="give tags with --remove OLD --add NEW (each repeatable)"
        )
    run = _run(flow, run_id)
    run.replace_tags(to_remove, to_add)
    _show(flow, run)


@tag.command("list", help="Show the user and system tags of a run.")
@_RUN_ID
@pass_flow
def list_tags(flow: FlowContext, run_id: str | None) -> None:
    _show(flow, _run(flow, run_id))


def _run(flow: FlowContext, run_id: str | None) -> Run:
    connect(flow.settings)
    run = find_run(flow.flow_name, run_id, flow.command_line("--namespace NAMESPACE tag ..."))
    if run_id is None:
        flow.say(f"Run {run.pathspec} (the latest; choose another with --run-id)")
    return run


def _show(flow: FlowContext, run: Run) -> None:
    click.echo(run.pathspec)
    click.echo(f"  user tags:   {', '.join(sorted(run.user_tags)) or '-'}")
    click.echo(f"  system tags: {', '.join(sorted(run.system_tags)) or '-'}")
