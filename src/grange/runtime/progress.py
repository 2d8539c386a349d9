"""The live progress view of ``run`` / ``resume`` on a terminal, drawn with rich.

One row per step: tasks done, running, failed and retrying, a bar for steps
whose number of tasks is known (foreach), and the run's elapsed time. Task
output still scrolls above the view, prefixed with ``[run/step/task]``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from grange.runtime.output import Output
from grange.task.spec import TaskSpec


@dataclass
class StepProgress:
    """Counters of one step."""

    done: int = 0
    running: int = 0
    failed: int = 0
    retrying: int = 0
    reused: int = 0
    expected: int = 0  # tasks announced by a foreach (0: not known)


class LiveOutput(Output):
    """A live table of steps, redrawn a few times a second."""

    def __init__(
        self, steps: list[str], stream: TextIO | None = None, *, quiet: bool = False
    ) -> None:
        super().__init__(stream, quiet=quiet)
        self.console = Console(file=self.stream, highlight=False)
        self.steps = {name: StepProgress() for name in steps}
        self.title = ""
        self.live = Live(
            console=self.console, refresh_per_second=6, transient=True, get_renderable=self._render
        )
        self.live.start()

    # -- Output -------------------------------------------------------------------

    @contextlib.contextmanager
    def paused(self) -> Iterator[object]:
        """Stop the refresh thread (and join it) for the block, then draw again."""
        thread = getattr(self.live, "_refresh_thread", None)  # rich's stop() does not join it
        self.live.stop()
        if thread is not None:
            thread.join(timeout=2)
        try:
            yield None
        finally:
            self.live.start()

    def line(self, text: str) -> None:
        if not self.quiet:
            self.console.print(escape(text))

    def run_started(self, flow: str, run_id: str, *, resumed_from: str | None = None) -> None:
        origin = f", resuming run {resumed_from}" if resumed_from else ""
        self.title = f"{flow}/{run_id}{origin}"
        self.live.refresh()  # not the empty frame drawn before the run had an id

    def task_started(self, spec: TaskSpec) -> None:
        progress = self._step(spec.step)
        progress.running += 1
        if spec.attempt:
            progress.retrying = max(0, progress.retrying - 1)

    def task_lines(self, spec: TaskSpec, stream: str, lines: list[bytes]) -> None:
        if self.quiet:
            return
        prefix = self._prefix(spec)
        style = "red" if stream == "stderr" else ""
        for raw in lines:
            text = Text(f"{prefix} ", style="dim")
            text.append(raw.decode("utf-8", "replace"), style=style)
            self.console.print(text)

    def task_finished(self, spec: TaskSpec, *, ok: bool, retrying: bool = False) -> None:
        progress = self._step(spec.step)
        progress.running = max(0, progress.running - 1)
        if ok:
            progress.done += 1
        elif retrying:
            progress.retrying += 1
        else:
            progress.failed += 1

    def task_cloned(self, spec: TaskSpec) -> None:
        self._step(spec.step).reused += 1

    def expect(self, step: str, count: int) -> None:
        self._step(step).expected += count

    def notice(self, text: str) -> None:
        self.console.print(Text(text, style="yellow"))

    def close(self) -> None:
        self.live.stop()
        if not self.quiet:
            self.console.print(self._render())

    # -- drawing ----------------------------------------------------------------------

    def _step(self, name: str) -> StepProgress:
        return self.steps.setdefault(name, StepProgress())

    def _render(self) -> Group:
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
        for column in ("step", "", "done", "running", "failed", "retrying"):
            table.add_column(column, justify="left" if column in ("step", "") else "right")
        for name, p in self.steps.items():
            if not (p.done or p.running or p.failed or p.retrying or p.reused or p.expected):
                continue
            finished = p.done + p.reused
            bar = (
                ProgressBar(total=p.expected, completed=finished, width=24)
                if p.expected
                else Text("")
            )
            count = f"{finished}/{p.expected}" if p.expected else str(finished)
            table.add_row(
                name,
                bar,
                count,
                str(p.running or ""),
                Text(str(p.failed or ""), style="bold red"),
                Text(str(p.retrying or ""), style="yellow"),
            )
        elapsed = time.monotonic() - self.started
        header = Text.assemble(("Running ", "bold"), (self.title, "bold cyan"), f"  {elapsed:.1f}s")
        return Group(header, table)
