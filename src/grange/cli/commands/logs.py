"""``logs RUN/STEP[/TASK]``: print what tasks wrote to stdout and stderr.

The logs themselves go to standard output, byte for byte as the task wrote them
(invalid UTF-8 included), so ``logs 3/train/4 --stdout > out.txt`` saves them
unchanged. When several logs are printed, each is preceded by a
``==> Flow/3/train/4 stdout (attempt 0) <==`` line on standard error (not with
``--quiet``). A task that ``resume`` reused shows what it printed in the run it
comes from, and that line (printed then also for one log) names that task.
Without ``--attempt`` each task's latest attempt is shown. Runs are named
explicitly, so every namespace is readable.
"""

from __future__ import annotations

import sys

import click

from grange.cli.context import FlowContext, pass_flow
from grange.cli.reading import connect, tasks_at


@click.command(
    short_help="Print the stdout and stderr of a task or of every task of a step.",
    help="Print what a task (RUN/STEP/TASK) or every task of a step (RUN/STEP) printed, "
    "e.g. 'logs 3/train' or 'logs 3/train/4 --stderr', byte for byte. Both streams unless "
    "one is chosen. A task that resume reused shows what it printed in its earlier run.",
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
    from grange.client import Task

    tasks = tasks_at(flow.flow_name, path, attempt=attempt)
    several = len(tasks) * len(streams) > 1
    out = click.get_binary_stream("stdout")
    for task in tasks:
        source = task.log_source()
        reused = ""
        if source != task.pathspec:
            ran = Task(source)
            reused = f", reused by resume: printed by {source} (attempt {ran.current_attempt})"
        for stream in streams:
            data = task.log_bytes(stream)
            if several or reused:
                out.flush()
                flow.say(
                    f"==> {task.pathspec} {stream} (attempt {task.current_attempt}{reused}) <=="
                )
            out.write(data)
            if data and not data.endswith(b"\n") and sys.stdout.isatty():
                out.write(b"\n")  # on a terminal only: a file gets the bytes unchanged
    out.flush()
