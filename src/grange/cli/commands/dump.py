"""``dump RUN/STEP[/TASK]``: print (or pickle to a file) the artifacts of tasks.

Each task gets a heading, then one line per artifact, sorted by name:
``name [size: 37 B, type: int] = 2``. Values whose stored size is over
``--max-value-size`` bytes are not loaded (``--max-value-size 0`` lists names
only); ``--file`` pickles ``{task pathspec: {name: value}}`` of every selected
artifact, whatever its size. Runs are named explicitly here, so every
namespace is readable.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import pickle
from typing import Any

import click

from grange.cli.context import FlowContext, pass_flow
from grange.cli.reading import connect, tasks_at
from grange.exceptions import CommandError

DEFAULT_MAX_VALUE_SIZE = 1000
MAX_REPR = 2000


@click.command(
    short_help="Print the artifacts of a task or of every task of a step.",
    help="Print the artifacts of a task (RUN/STEP/TASK) or of every task of a step "
    "(RUN/STEP), e.g. 'dump 3/train' or 'dump 3/train/4'.",
)
@click.argument("path", metavar="RUN/STEP[/TASK]")
@click.option("--private", is_flag=True, help="Include private artifacts (names starting with _).")
@click.option(
    "--max-value-size",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_VALUE_SIZE,
    show_default=True,
    metavar="BYTES",
    help="Show only values stored in at most this many bytes; 0 lists names only.",
)
@click.option(
    "--include", default="", metavar="A,B", help="Only these artifacts (comma-separated)."
)
@click.option(
    "--file",
    "out_file",
    type=click.Path(dir_okay=False, writable=True),
    help="Pickle {task pathspec: {name: value}} to this file instead of printing.",
)
@pass_flow
def dump(
    flow: FlowContext,
    path: str,
    private: bool,
    max_value_size: int,
    include: str,
    out_file: str | None,
) -> None:
    """Print or save the selected artifacts of the selected tasks."""
    connect(flow.settings, every_namespace=True)
    tasks = tasks_at(flow.flow_name, path)
    wanted = {name.strip() for name in include.split(",") if name.strip()}
    selected = {task.pathspec: _select(task, wanted, private) for task in tasks}
    _check_included(wanted, tasks, selected)
    if out_file is not None:
        values = {ps: {a.id: a.data for a in arts} for ps, arts in selected.items()}
        _write_pickle(out_file, values)
        count = sum(len(v) for v in values.values())
        flow.say(f"Wrote {count} artifact(s) of {len(values)} task(s) to {out_file}")
        return
    for task in tasks:
        attempt = f" (attempt {task.current_attempt})" if task.current_attempt else ""
        click.echo(f"{task.pathspec}{attempt}:")
        artifacts = selected[task.pathspec]
        if not artifacts:
            click.echo(f"  ({_why_empty(task)})")
        elif task.finished and task.exception is not None:
            error = task.exception
            click.echo(
                f"  (the task failed with {_kind(error)}: {error.message}; as it left them:)"
            )
        for artifact in artifacts:
            click.echo("  " + _line(artifact, max_value_size))


def _write_pickle(out_file: str, values: dict[str, dict[str, Any]]) -> None:
    """Pickle ``values`` to ``out_file``; a file that cannot be written is named, with
    the reason, and a file this call created is not left half written."""
    existed = os.path.lexists(out_file)
    try:
        with open(out_file, "wb") as fh:
            pickle.dump(values, fh, protocol=pickle.HIGHEST_PROTOCOL)
    except OSError as err:
        if not existed:
            with contextlib.suppress(OSError):
                os.remove(out_file)
        reason = err.strerror or type(err).__name__
        parent = os.path.dirname(os.path.abspath(out_file))
        if not os.path.isdir(parent):
            fix = f"create the directory {parent} first, or name a file in one that exists"
        else:
            fix = "name a regular file in a directory you can write to, e.g. --file artifacts.pkl"
        raise CommandError(f"dump --file {out_file}: cannot write it ({reason})", fix=fix) from None


def _kind(error: Any) -> str:
    """The exception's class name, without its module (``builtins.ValueError``)."""
    return str(error.type).rsplit(".", 1)[-1]


def _why_empty(task: Any) -> str:
    if not task.finished:
        return "no artifacts: the task has not finished"
    error = task.exception
    if error is not None:
        return f"no artifacts: the task failed with {_kind(error)}: {error.message}"
    return "no artifacts"


def _select(task: Any, wanted: set[str], private: bool) -> list[Any]:
    """The task's artifacts to show: named ones (even private), else public (and private)."""
    artifacts = task.all_artifacts()
    if wanted:
        return [a for a in artifacts if a.id in wanted]
    return [a for a in artifacts if private or not a.id.startswith("_")]


def _check_included(wanted: set[str], tasks: list[Any], selected: dict[str, list[Any]]) -> None:
    found = {a.id for arts in selected.values() for a in arts}
    missing = sorted(wanted - found)
    if missing:
        known = sorted({a.id for t in tasks for a in t.all_artifacts()})
        close = difflib.get_close_matches(missing[0], known, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise CommandError(
            f"no artifact named {', '.join(missing)} in the selected task(s)",
            fix=f"{hint}artifacts: {', '.join(known) or 'none'}",
        )


def _line(artifact: Any, max_value_size: int) -> str:
    head = f"{artifact.id} [size: {_size(artifact.size)}, type: {artifact.type}]"
    if max_value_size == 0:
        return head
    if artifact.size > max_value_size:
        return f"{head} = <not shown: over --max-value-size {max_value_size}>"
    try:
        text = repr(artifact.data)
    except Exception as exc:  # an artifact whose class cannot be imported here
        return f"{head} = <cannot load: {type(exc).__name__}: {exc}>"
    if len(text) > MAX_REPR:
        text = text[:MAX_REPR] + f"... ({len(text)} characters)"
    return f"{head} = {text}"


def _size(size: int) -> str:
    """``37 B``, ``1.5 KB``, ``12.0 MB``."""
    if size < 1024:
        return f"{size} B"
    value, unit = size / 1024, "KB"
    for bigger in ("MB", "GB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"
