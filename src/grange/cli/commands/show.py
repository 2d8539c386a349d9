"""``show``: print the flow's graph as text, JSON, Mermaid or Graphviz DOT.

``show`` draws the graph even when the flow breaks a lint rule (that is when a
picture helps most); it then warns on stderr with the first problem and still
exits 0. ``check`` is the command that fails on problems. ``output-dot`` is
Metaflow's name for ``show --dot``.
"""

from __future__ import annotations

import click

from grange.cli.context import FlowContext, pass_flow
from grange.graph.lint import lint
from grange.graph.render import render


@click.command(
    short_help="Show the flow's steps and how they connect.",
    help="Show the flow's graph: its docstring, then every step in order with its "
    "decorators, docstring and next steps (plain text by default). The graph is drawn "
    "even when the flow breaks a lint rule; the first problem is then printed on stderr "
    "as a warning and the exit status stays 0 (use 'check' to fail on problems).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the graph as JSON.")
@click.option("--mermaid", is_flag=True, help="Print a Mermaid flowchart.")
@click.option("--dot", is_flag=True, help="Print Graphviz DOT (pipe to 'dot -Tpng -o flow.png').")
@pass_flow
def show(flow: FlowContext, as_json: bool, mermaid: bool, dot: bool) -> None:
    """Print the graph in the chosen format, then warn about lint problems."""
    chosen = [fmt for fmt, on in (("json", as_json), ("mermaid", mermaid), ("dot", dot)) if on]
    if len(chosen) > 1:
        raise click.UsageError("choose one of --json, --mermaid and --dot")
    _print_graph(flow, chosen[0] if chosen else "text")


@click.command(
    "output-dot",
    short_help="Print the graph as Graphviz DOT (same as 'show --dot').",
    help="Print the flow's graph as Graphviz DOT, as 'show --dot' does. "
    "Pipe it to 'dot -Tpng -o flow.png' for an image.",
)
@pass_flow
def output_dot(flow: FlowContext) -> None:
    """Metaflow's ``output-dot``."""
    _print_graph(flow, "dot")


def _print_graph(flow: FlowContext, fmt: str) -> None:
    graph = flow.graph()
    click.echo(render(graph, fmt), nl=False)
    problems = lint(graph)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        click.echo(f"Warning: the flow is not valid{more}:", err=True)
        click.echo(problems[0].as_error().render(), err=True)
        click.echo(f"Run '{flow.command_line('check')}' to see every problem.", err=True)
