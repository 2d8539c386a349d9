"""``logs RUN/STEP[/TASK]``: print what tasks wrote to stdout and stderr.

The logs themselves go to standard output, exactly as the task wrote them, so
``logs 3/train/4 --stdout > out.txt`` saves them unchanged. When several logs
are printed, each is preceded by a ``==> Flow/3/train/4 stdout (attempt 0) <==``
line on standard error (not with ``--quiet``). Without ``--attempt`` each task's
latest attempt is shown. Runs are named explicitly, so every namespace is readable.
"""

from __future__ import annotations

import click

from grange.cli.context import FlowContext, pass_flow
from grange.cli.reading import connect, tasks_at


@click.command(
    short_help="Print the stdout and stderr of a task or of every task of a step.",
    help="Print what a task (RUN/STEP/TASK) or every task of a step (RUN/STEP) printed, "
    "e.g. 'logs 3/train' or 'logs 3/train/4 --stderr'. Both streams unless one is chosen.",
)
@click.argument("path", metavar="RUN/STEP[/TASK]")
@click.option("--stdout", "want_stdout", is_flag=True, help="Show standard output.")
@click.option("--stderr", "want_stderr", is_flag=True, help="Show standard error.")
@click.option("--both", is_flag=True, help="Show both streams (the default).")
@click.option(
    "--attempt",
    type=click.IntRange(min=0),
    metavar="N",
    help="Show attempt N (from 0) instead of the latest.",
)
@pass_flow
def logs(
    flow: FlowContext,
    path: str,
    want_stdout: bool,
    want_stderr: bool,
    both: bool,
    attempt: int | None,
) -> None:
    """Print the chosen streams of the chosen tasks."""
    streams = [name for name, on in (("stdout", want_stdout), ("stderr", want_stderr)) if on]
    if both or not streams:
        streams = ["stdout", "stderr"]
    connect(flow.settings, every_namespace=True)
    tasks = tasks_at(flow.flow_name, path, attempt=attempt)
    headers = len(tasks) * len(streams) > 1
    for task in tasks:
        for stream in streams:
            text = task.stdout if stream == "stdout" else task.stderr
            if headers:
                flow.say(f"==> {task.pathspec} {stream} (attempt {task.current_attempt}) <==")
            if text:
                click.echo(text, nl=not text.endswith("\n"))
