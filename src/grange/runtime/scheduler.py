"""Which tasks come next: the graph walk of a run, with no processes or storage.

The runtime tells the :class:`Scheduler` that a task finished and what its
``self.next`` chose (:class:`Outcome`); the scheduler answers with the tasks
that became ready (:class:`Pending`). A foreach answers with a lazy iterator so
that a 100,000-way split is never held in memory at once. A join becomes ready
when every branch of the split it closes has arrived: arrivals are counted
per split *task*, so nested foreaches join per outer item.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from grange.exceptions import GrangeError
from grange.graph import FlowGraph, NodeType
from grange.task.spec import Frame


@dataclass(frozen=True)
class Pending:
    """A task ready to launch: its step, parents (``step/task``) and enclosing splits."""

    step: str
    inputs: tuple[str, ...]
    frames: tuple[Frame, ...]
    iteration: int = 0


@dataclass(frozen=True)
class Outcome:
    """A finished task and the transition it took."""

    task_id: str
    step: str
    frames: tuple[Frame, ...]
    next_steps: tuple[str, ...]
    iteration: int = 0
    foreach_count: int | None = None
    foreach_key: str | None = None

    @property
    def path(self) -> str:
        """``step/task``: how children name this task as their input."""
        return f"{self.step}/{self.task_id}"


class TransitionMismatch(GrangeError):
    """The transition a task took is not one its step declares (a grange bug or a
    flow file edited during the run)."""

    headline = "The flow changed during the run"


class Scheduler:
    """Walks a flow's graph as tasks finish."""

    def __init__(self, graph: FlowGraph) -> None:
        self.graph = graph
        # (join step, split step, split task id) -> {branch index: parent step/task}
        self._arrivals: dict[tuple[str, str, str], dict[int, str]] = {}

    def first(self) -> Pending:
        return Pending(self.graph.start, (), ())

    def on_success(self, outcome: Outcome) -> Iterator[Pending]:
        """The tasks that ``outcome`` makes ready, lazily."""
        node = self.graph[outcome.step]
        self._check(outcome)
        if node.is_fanout:  # a foreach, or a gang (its tasks are consecutive: see runtime.parallel)
            yield from self._foreach(outcome)
            return
        for target in outcome.next_steps:
            frames = outcome.frames
            if node.type is NodeType.SPLIT_STATIC:
                branch = node.out_funcs.index(target)
                frame = Frame(node.name, outcome.task_id, branch, len(node.out_funcs))
                frames = (*frames, frame)
            yield from self._arrive(outcome, target, frames)

    def waiting_joins(self) -> dict[str, int]:
        """Joins still waiting for branches: join step -> branches arrived."""
        waiting: dict[str, int] = {}
        for (join, _, _), got in self._arrivals.items():
            waiting[join] = waiting.get(join, 0) + len(got)
        return waiting

    def foreach_item(self, outcome: Outcome, index: int) -> Pending:
        """The task of item ``index`` of the foreach split ``outcome``, alone (a task on
        Argo finding its own place). The first step of a body is never a join."""
        self._check(outcome)
        node = self.graph[outcome.step]
        count = outcome.foreach_count or 0
        frame = Frame(node.name, outcome.task_id, index, count, True, outcome.foreach_key)
        return next(self._arrive(outcome, node.out_funcs[0], (*outcome.frames, frame)))

    def _foreach(self, outcome: Outcome) -> Iterator[Pending]:
        node = self.graph[outcome.step]
        target = node.out_funcs[0]
        count = outcome.foreach_count or 0
        for index in range(count):
            frame = Frame(node.name, outcome.task_id, index, count, True, outcome.foreach_key)
            yield from self._arrive(outcome, target, (*outcome.frames, frame))

    def _arrive(
        self, outcome: Outcome, target: str, frames: tuple[Frame, ...]
    ) -> Iterator[Pending]:
        if self.graph[target].type is not NodeType.JOIN:
            iteration = outcome.iteration + 1 if target == outcome.step else 0
            yield Pending(target, (outcome.path,), frames, iteration)
            return
        if not frames:
            raise TransitionMismatch(f"join '{target}' reached outside any split")
        closing = frames[-1]
        key = (target, closing.step, closing.task_id)
        got = self._arrivals.setdefault(key, {})
        got[closing.index] = outcome.path
        if len(got) == closing.count:
            del self._arrivals[key]
            inputs = tuple(got[i] for i in sorted(got))
            yield Pending(target, inputs, frames[:-1])

    def _check(self, outcome: Outcome) -> None:
        node = self.graph[outcome.step]
        allowed = set(node.out_funcs)
        if not set(outcome.next_steps) <= allowed:
            raise TransitionMismatch(
                f"step '{outcome.step}' went to {', '.join(outcome.next_steps)}; "
                f"its source says {', '.join(node.out_funcs) or 'nothing'}",
                step=outcome.step,
                fix="do not edit the flow file while it runs; run it again",
            )
        if node.is_switch and len(outcome.next_steps) != 1:
            raise TransitionMismatch(f"switch step '{outcome.step}' must choose exactly one case")
