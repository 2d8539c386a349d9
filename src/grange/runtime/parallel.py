"""Gang scheduling of ``@parallel`` steps in the local runtime.

``self.next(self.train, num_parallel=N)`` makes the scheduler yield the N tasks
of ``train`` one after another (like a foreach of ``range(N)``). The run loop
hands them to :meth:`Gangs.form` together; from then on the gang is one unit:

- **start together.** Only node 0 (the *control* task, whose task id every
  node sees as ``current.parallel.control_task_id``) waits for a worker slot
  and for its ``@resources``; the moment it is launched, the other N-1 are
  launched too, even past ``--max-workers``. A gang therefore never waits for
  slots that its own running members hold, and never deadlocks, whatever N and
  ``--max-workers`` are. This is what Metaflow's local runtime does too: its
  control task takes one worker slot and starts the other N-1 itself.
- **finish together.** The tasks of a gang reach the join only when all N
  attempts succeeded; a success is held until then, so the join never sees a
  mix of a gang's attempts.
- **fail together.** When one task fails, the runtime stops the others of the
  gang (they would wait for it forever, e.g. in an all-reduce); those are
  recorded as failed, naming the task that failed. When every task of the
  attempt has ended, the ``@retry``/``@catch`` decision is taken once, for the
  control task, and applied to the whole gang: all N run again as the next
  attempt (or all N run the ``@catch`` fallback), or the run fails once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from grange.datastore import AttemptRecord
from grange.graph import FlowGraph
from grange.task.parallel import MAIN_IP
from grange.task.spec import Frame, TaskSpec

Failed = tuple[TaskSpec, "AttemptRecord | None", int, "dict[str, Any] | None"]


@dataclass
class Settled:
    """A gang attempt whose tasks have all ended."""

    members: list[TaskSpec]  # node order
    succeeded: list[tuple[TaskSpec, AttemptRecord]]  # node order; all N when the gang succeeded
    first_failure: Failed | None  # the failure that failed the gang (None: it succeeded)
    failed: list[TaskSpec] = field(default_factory=list)  # the members that did not succeed


@dataclass
class _Gang:
    members: list[TaskSpec]
    running: set[str]
    succeeded: dict[str, AttemptRecord] = field(default_factory=dict)
    failed: list[TaskSpec] = field(default_factory=list)
    first_failure: Failed | None = None
    stopped: set[str] = field(default_factory=set)


class Gangs:
    """The gangs of one run: who starts with whom, and when a gang is done."""

    def __init__(self, graph: FlowGraph) -> None:
        self.steps = frozenset(n.name for n in graph.nodes.values() if n.parallel_step)
        self._gangs: dict[str, _Gang] = {}  # task id of any member -> its gang's attempt
        self._followers: dict[str, list[TaskSpec]] = {}  # leader task id -> to launch with it
        self._noticed: set[str] = set()

    def past_limit(self, specs: list[TaskSpec], max_workers: int) -> str | None:
        """What to tell the user, once per step, when its gangs outnumber --max-workers."""
        step = specs[0].step
        if len(specs) <= max_workers or step in self._noticed:
            return None
        self._noticed.add(step)
        return (
            f"The gang of {len(specs)} tasks of @parallel step '{step}' starts all at once, "
            f"past --max-workers {max_workers}: its tasks must run together."
        )

    def form(self, specs: list[TaskSpec]) -> TaskSpec:
        """A new gang (node 0 first): the control task to launch; the rest follow it."""
        info = {"control_task_id": specs[0].task_id, "main_ip": MAIN_IP}
        members = [dataclasses.replace(s, extra={**s.extra, "parallel": info}) for s in specs]
        self._followers[members[0].task_id] = members[1:]
        return members[0]

    def followers(self, leader: TaskSpec) -> list[TaskSpec]:
        """The other tasks of the gang whose control task was just admitted, to launch
        now, with the same attempt number, options and environment."""
        if not self._followers:
            return []
        rest = self._followers.pop(leader.task_id, None)
        if rest is None:
            return []
        members = [leader] + [
            dataclasses.replace(
                f,
                attempt=leader.attempt,
                extra=dict(leader.extra),
                max_user_retries=leader.max_user_retries,
            )
            for f in rest
        ]
        gang = _Gang(members, {m.task_id for m in members})
        for m in members:
            self._gangs[m.task_id] = gang
        return members[1:]

    def finished(
        self,
        spec: TaskSpec,
        record: AttemptRecord | None,
        code: int,
        exception: dict[str, Any] | None,
        *,
        ok: bool,
    ) -> tuple[list[str], dict[str, Any] | None, Settled | None]:
        """A task of a gang ended: the members to stop now, the exception to record for
        this task (None if it succeeded), and the gang's outcome once all have ended."""
        gang = self._gangs.pop(spec.task_id)
        gang.running.discard(spec.task_id)
        stop: list[str] = []
        if ok and record is not None:
            gang.succeeded[spec.task_id] = record
        else:
            gang.failed.append(spec)
            if spec.task_id in gang.stopped and gang.first_failure is not None:
                exception = _stopped_exception(spec, gang.first_failure)
            if gang.first_failure is None:
                gang.first_failure = (spec, record, code, exception)
                stop = sorted(gang.running)
                gang.stopped.update(stop)
        if gang.running:
            return stop, (None if ok else exception), None
        settled = Settled(
            members=gang.members,
            succeeded=[
                (m, gang.succeeded[m.task_id]) for m in gang.members if m.task_id in gang.succeeded
            ],
            first_failure=gang.first_failure,
            failed=gang.failed,
        )
        return stop, (None if ok else exception), settled

    def again(self, settled: Settled, leader: TaskSpec) -> None:
        """The gang runs again as ``leader``'s attempt (a retry or the @catch fallback)."""
        self._followers[leader.task_id] = settled.members[1:]


def _stopped_exception(spec: TaskSpec, failure: Failed) -> dict[str, Any]:
    failed = failure[0]
    what = str((failure[3] or {}).get("type", "a failure")).rsplit(".", 1)[-1]
    message = (
        f"stopped by the runtime: task {failed.task_id} (node "
        f"{failed.frames[-1].index}) of the same @parallel gang failed ({what})"
    )
    return {"type": "GangMemberFailed", "message": message, "traceback": "", "text": message}


def whole_gangs(graph: FlowGraph, tasks: dict[Any, AttemptRecord]) -> dict[Any, AttemptRecord]:
    """For resume: the origin's reusable tasks, without those of a gang that did not
    succeed as a whole (its N tasks, same attempt): such a gang runs again, all of it.

    ``tasks`` maps ``(step, split positions, iteration)`` to a successful task's record.
    """
    steps = {n.name for n in graph.nodes.values() if n.parallel_step}
    if not steps:
        return tasks
    groups: dict[Any, list[Any]] = {}
    for identity in tasks:
        step, positions, iteration = identity
        if step in steps and positions:
            groups.setdefault((step, positions[:-1], iteration), []).append(identity)
    kept = dict(tasks)
    for identities in groups.values():
        records = [tasks[i] for i in identities]
        count = Frame.from_list(records[0].extra["frames"][-1]).count
        if len(records) != count or len({r.attempt for r in records}) != 1:
            for identity in identities:
                del kept[identity]
    return kept
