"""``check``: lint the flow's graph and its parameter definitions.

It is also what ``python flow.py`` does with no command, as in Metaflow.
Success prints one line on stdout (``Flow X is valid: N steps``) and exits 0;
a broken rule prints every problem of the first failing rule group on stderr
and exits 2.
"""

from __future__ import annotations

import click

from grange.cli.context import FlowContext, pass_flow
from grange.cli.params import check_definitions
from grange.graph.lint import check as lint_check


@click.command(
    short_help="Check that the flow is valid (the default command).",
    help="Check that the flow is valid: its graph follows every rule (each problem is "
    "reported with file, line, step and a fix) and its parameters are well defined. "
    "Exits with status 2 when a problem is found. This is the default command.",
)
@pass_flow
def check(flow: FlowContext) -> None:
    """Lint the flow; print a one-line verdict."""
    graph = flow.graph()
    lint_check(graph)
    check_definitions(flow.flow_cls)
    counts = f"{_count(len(graph), 'step')}, {_count(len(graph.parameters), 'parameter')}"
    click.echo(f"Flow {graph.name} is valid: {counts}.")
    flow.say(f"'{flow.command_line('show')}' shows its graph.")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
