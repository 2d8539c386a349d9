"""``grange runs [FLOW]``: the recent runs stored under the current directory.

A command of the ``grange`` console script that needs no flow file: it reads
the store the flow commands would use from here (``--datastore-root`` /
``GRANGE_DATASTORE_ROOT``, else the nearest ``.grange/``). It lists the runs
of FLOW, or of every flow, newest first: id, status, start time, duration
and user tags. Only your runs (``user:<you>``) unless ``--all``.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import TYPE_CHECKING

import click

from grange.cli.context import store_settings
from grange.cli.options import store_options
from grange.cli.reading import connect, duration, table, when
from grange.exceptions import NamespaceMismatch

if TYPE_CHECKING:
    from grange.client import Flow, Run

DEFAULT_LIMIT = 20


@click.command(
    short_help="List recent runs of a flow, or of every flow.",
    help="List the recent runs of FLOW (a flow's class name), or of every flow, stored "
    "under the current directory: run id, status, start time, duration and user tags, "
    "newest first. Only your runs unless --all.",
)
@click.argument("flow_name", metavar="[FLOW]", required=False)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=DEFAULT_LIMIT,
    show_default=True,
    metavar="N",
    help="Show at most N runs.",
)
@click.option("--all", "every_user", is_flag=True, help="Runs of every user, not only yours.")
@store_options
@click.pass_context
def runs(
    ctx: click.Context,
    flow_name: str | None,
    limit: int,
    every_user: bool,
    datastore: str | None,
    datastore_root: str | None,
    metadata: str | None,
) -> None:
    """Print the table of runs."""
    from grange.client import Metaflow, get_metadata, get_namespace

    settings = store_settings(datastore, datastore_root, metadata)
    connect(settings, every_namespace=every_user)
    flows = [_flow(flow_name)] if flow_name else Metaflow().flows
    found = [run for flow in flows for run in itertools.islice(flow, limit)]
    found.sort(key=lambda run: run.created_at or datetime.min, reverse=True)
    if not found:
        what = f"of {flow_name} " if flow_name else ""
        scope = "" if every_user else f" in namespace '{get_namespace()}'"
        hint = "" if every_user else "; --all lists every user's runs"
        click.echo(f"No runs {what}found{scope} in {get_metadata()}{hint}.", err=True)
        return
    click.echo(table(_rows(found[:limit], with_flow=flow_name is None, with_user=every_user)))


def _flow(name: str) -> Flow:
    from grange.client import Flow, get_namespace

    try:
        return Flow(name)
    except NamespaceMismatch:
        raise NamespaceMismatch(
            f"flow {name} has no run in namespace '{get_namespace()}'",
            pathspec=name,
            namespace=get_namespace(),
            fix=f"list every user's runs with: grange runs {name} --all",
        ) from None


def _rows(found: list[Run], *, with_flow: bool, with_user: bool) -> list[list[str]]:
    header = ["RUN", "STATUS", "STARTED", "DURATION", "TAGS"]
    if with_user:
        header.insert(2, "USER")
    if with_flow:
        header.insert(0, "FLOW")
    rows = [header]
    for run in found:
        users = sorted(t.split(":", 1)[1] for t in run.system_tags if t.startswith("user:"))
        cells = [
            run.id,
            run.status,
            when(run.created_at),
            duration(run.created_at, run.finished_at),
            ", ".join(sorted(run.user_tags)) or "-",
        ]
        if with_user:
            cells.insert(2, ", ".join(users) or "-")
        if with_flow:
            cells.insert(0, run.path_components[0])
        rows.append(cells)
    return rows
