"""``card view|get|list PATHSPEC``: the ``@card`` reports of a task, as in Metaflow.

PATHSPEC is ``STEP`` (that step of the flow's latest run in your namespace),
``RUN/STEP`` or ``RUN/STEP/TASK``. For a step with several tasks, ``list``
shows the cards of every task, while ``get`` and ``view`` take its first task
(as Metaflow's ``Step.task``) and say so. With several matching cards, ``get``
and ``view`` list them and ask for ``--id``, ``--type`` or ``--hash``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from grange.cli.context import FlowContext, pass_flow
from grange.cli.errors import GuardedGroup
from grange.cli.reading import connect, find_run, parse_task_path, table
from grange.exceptions import CommandError, ObjectNotFound

if TYPE_CHECKING:
    from grange.client import Task
    from grange.client.cards import Card


@click.group(
    cls=GuardedGroup,
    short_help="View, save or list the @card reports of a task.",
    help="View, save or list the cards (@card reports) of a task. PATHSPEC is STEP (that "
    "step of the latest run), RUN/STEP or RUN/STEP/TASK.",
)
def card() -> None:
    """The ``card`` commands."""


def _read_options(func: Any) -> Any:
    func = click.option(
        "--follow-resumed/--no-follow-resumed",
        default=True,
        show_default=True,
        help="For a task resume reused, show the cards of the task it was cloned from.",
    )(func)
    func = click.option(
        "--hash",
        "card_hash",
        metavar="SHA",
        help="Only the card whose page's sha256 starts with SHA.",
    )(func)
    func = click.option(
        "--type", "card_type", metavar="TYPE", help="Only cards of this type (default, blank)."
    )(func)
    func = click.option(
        "--id", "card_id", metavar="ID", help="Only the card with this @card(id=...)."
    )(func)
    return func


@card.command("get", help="Print the HTML page of a card, or write it to FILE.")
@click.argument("pathspec")
@click.argument("file", required=False, type=click.Path(dir_okay=False, writable=True))
@_read_options
@pass_flow
def get(
    flow: FlowContext,
    pathspec: str,
    file: str | None,
    card_id: str | None,
    card_type: str | None,
    card_hash: str | None,
    follow_resumed: bool,
) -> None:
    chosen = _one_card(flow, pathspec, card_id, card_type, card_hash, follow_resumed, "get")
    page = chosen.get()
    if file is None:
        click.echo(page, nl=not page.endswith("\n"))
        return
    try:
        Path(file).write_text(page, encoding="utf-8")
    except OSError as err:
        raise CommandError(
            f"cannot write card {chosen.slot} of {chosen.pathspec} to {file}: "
            f"{err.strerror or err}",
            fix="give a FILE in a folder that exists and that you may write to, on a disk "
            "with room (or leave FILE out to print the page)",
        ) from None
    flow.say(f"Card {chosen.slot} of {chosen.pathspec} written to {file}")


@card.command("view", help="Open a card in a web browser (it prints the file it opens).")
@click.argument("pathspec")
@_read_options
@pass_flow
def view(
    flow: FlowContext,
    pathspec: str,
    card_id: str | None,
    card_type: str | None,
    card_hash: str | None,
    follow_resumed: bool,
) -> None:
    import webbrowser

    from grange.client.cards import write_temp_page

    chosen = _one_card(flow, pathspec, card_id, card_type, card_hash, follow_resumed, "view")
    path = write_temp_page(chosen)
    click.echo(path)
    try:
        opened = webbrowser.open("file://" + path)
    except webbrowser.Error:
        opened = False
    if not opened:
        flow.say("No web browser found: open the file above yourself.")


@card.command(
    "list",
    help="List the cards of a task, of every task of a step, or (with "
    "no PATHSPEC) of every task of the latest run.",
)
@click.argument("pathspec", required=False)
@_read_options
@click.option("--as-json", is_flag=True, help="Print the list as JSON.")
@pass_flow
def list_cards(
    flow: FlowContext,
    pathspec: str | None,
    card_id: str | None,
    card_type: str | None,
    card_hash: str | None,
    follow_resumed: bool,
    as_json: bool,
) -> None:
    if pathspec is None:
        run = find_run_cli(flow, None)
        tasks = [task for step in reversed(list(run)) for task in step]
        where = run.pathspec
    else:
        tasks = _tasks(flow, pathspec)
        where = tasks[0].pathspec if len(tasks) == 1 else tasks[0].parent.pathspec
    found = [
        c for task in tasks for c in _cards_of(task, card_id, card_type, card_hash, follow_resumed)
    ]
    if not found:
        if not follow_resumed:
            _raise_if_cloned(flow, tasks, f"card list {pathspec or ''}".rstrip())
        raise _no_cards(where, card_id, card_type, card_hash)
    if as_json:
        click.echo(json.dumps([_as_dict(c) for c in found], indent=2))
        return
    rows = [["TASK", "ATTEMPT", "INDEX", "TYPE", "ID", "STATUS", "HASH"]]
    for c in found:
        rows.append(
            [c.pathspec, str(c.attempt), str(c.index), c.type, c.id or "-", c.status,
             (c.hash or "-")[:12]]
        )  # fmt: skip
    click.echo(table(rows))
    for c in found:
        if c.damage:
            flow.say(f"{c.pathspec} card {c.slot} is damaged: {c.damage}")
    first = found[0]
    task_path = "/".join(first.pathspec.split("/")[1:])
    flow.say(
        f"Open one with: {flow.command_line(f'card view {task_path}')}"
        + (f" --id {first.id}" if first.id else f" --type {first.type}")
    )


# -- resolving PATHSPEC --------------------------------------------------------------------


def find_run_cli(flow: FlowContext, run_id: str | None) -> Any:
    connect(flow.settings, every_namespace=run_id is not None)
    return find_run(flow.flow_name, run_id, flow.command_line("--namespace NAMESPACE card ..."))


def _tasks(flow: FlowContext, pathspec: str) -> list[Task]:
    """The task PATHSPEC names, or every task of the step it names, in task id order."""
    from grange.client import Step, Task

    parts = pathspec.strip("/").split("/")
    if len(parts) == 1 and parts[0]:
        run = find_run_cli(flow, None)
        try:
            step = run[parts[0]]
        except ObjectNotFound:
            raise ObjectNotFound(
                f"the latest run {run.pathspec} has no step '{parts[0]}'",
                pathspec=f"{run.pathspec}/{parts[0]}",
                fix="name a step it ran, or a run: RUN/STEP",
            ) from None
        return sorted(step, key=_task_order)
    try:
        run_id, step_name, task_id = parse_task_path(flow.flow_name, pathspec)
    except CommandError as err:
        raise CommandError(
            f"expected STEP, RUN/STEP or RUN/STEP/TASK, not {pathspec!r}",
            fix="e.g. 'card view end', 'card view 3/end' or 'card view 3/end/7'",
        ) from err
    connect(flow.settings, every_namespace=True)
    if task_id is not None:
        return [Task(f"{flow.flow_name}/{run_id}/{step_name}/{task_id}")]
    return sorted(Step(f"{flow.flow_name}/{run_id}/{step_name}"), key=_task_order)


def _task_order(task: Task) -> tuple[int, str]:
    return (int(task.id), "") if task.id.isdigit() else (1 << 62, task.id)


def _cards_of(
    task: Task,
    card_id: str | None,
    card_type: str | None,
    card_hash: str | None,
    follow_resumed: bool,
) -> list[Card]:
    from grange.client.cards import get_cards

    cards = get_cards(task, id=card_id, type=card_type, follow_resumed=follow_resumed)
    return [c for c in cards if card_hash is None or (c.hash or "").startswith(card_hash)]


def _one_card(
    flow: FlowContext,
    pathspec: str,
    card_id: str | None,
    card_type: str | None,
    card_hash: str | None,
    follow_resumed: bool,
    verb: str,
) -> Card:
    tasks = _tasks(flow, pathspec)
    task = tasks[0]
    if len(tasks) > 1:
        flow.say(
            f"Step {task.parent.pathspec} has {len(tasks)} tasks: showing the cards of the "
            f"first, {task.pathspec}; name another as RUN/STEP/TASK "
            f"('{flow.command_line(f'card list {pathspec}')}' lists them all)"
        )
    found = _cards_of(task, card_id, card_type, card_hash, follow_resumed)
    if not found:
        if not follow_resumed:
            _raise_if_cloned(flow, [task], f"card {verb} {pathspec}")
        raise _no_cards(task.pathspec, card_id, card_type, card_hash, task=task)
    if len(found) > 1:
        listing = "; ".join(
            f"index {c.index}: type {c.type}"
            + (f", id {c.id}" if c.id else "")
            + (f", hash {c.hash[:12]}" if c.hash else "")
            for c in found
        )
        ids = {c.id for c in found}
        if len(ids) == len(found):  # each has an id of its own: --id tells them apart
            ask, example = "--id ID", f"--id {next(c.id for c in found if c.id)}"
        elif len({c.type for c in found}) == len(found):
            ask, example = "--type TYPE", f"--type {found[0].type}"
        elif all(c.hash for c in found):
            ask, example = "--hash SHA", f"--hash {(found[0].hash or '')[:12]}"
        else:
            ask, example = "--type TYPE or --hash SHA", f"--type {found[0].type}"
        raise CommandError(
            f"task {task.pathspec} has {len(found)} cards that match ({listing})",
            fix=f"choose one with {ask}, e.g. "
            f"{flow.command_line(f'card {verb} {pathspec}')} {example}; or read them by "
            "index in Python: get_cards(...)[INDEX]",
        )
    return found[0]


def _raise_if_cloned(flow: FlowContext, tasks: list[Task], command: str) -> None:
    """With --no-follow-resumed, a task resume cloned has no cards of its own: say so."""
    for task in tasks:
        origin = task._ran_as()
        if origin.pathspec != task.pathspec:
            raise ObjectNotFound(
                f"{task.pathspec} has no cards of its own: resume cloned it from "
                f"{origin.pathspec} (the origin run, where it ran), and its cards are there",
                pathspec=task.pathspec,
                fix=f"read them with --follow-resumed (the default): "
                f"{flow.command_line(command)} --follow-resumed",
            )


def _no_cards(
    where: str,
    card_id: str | None,
    card_type: str | None,
    card_hash: str | None,
    task: Task | None = None,
) -> ObjectNotFound:
    asked = [f"{k} {v}" for k, v in (("id", card_id), ("type", card_type), ("hash", card_hash))
             if v]  # fmt: skip
    if asked:
        others = ""
        if task is not None:
            from grange.client.cards import get_cards

            cards = get_cards(task)
            others = ", ".join(f"type {c.type}" + (f" id {c.id}" if c.id else "") for c in cards)
        return ObjectNotFound(
            f"{where} has no card with {' and '.join(asked)}",
            pathspec=where,
            fix=f"its cards: {others}"
            if others
            else "leave out --id/--type/--hash to see every card ('card list')",
        )
    return ObjectNotFound(
        f"{where} has no cards",
        pathspec=where,
        fix="put @card above the step's @step (or run with --with card) to give its tasks a "
        "card; a task still running has one once it calls current.card.refresh() or ends",
    )


def _as_dict(c: Card) -> dict[str, Any]:
    return {
        "pathspec": c.pathspec,
        "attempt": c.attempt,
        "index": c.index,
        "type": c.type,
        "id": c.id,
        "slot": c.slot,
        "status": c.status,
        "final": c.final,
        "hash": c.hash,
        "path": c.path,
        "damage": c.damage,
    }
