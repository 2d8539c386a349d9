"""How each attempt of a task is run and what happens after it fails.

The :class:`AttemptPolicy` holds the :class:`~grange.decorators.options.TaskOptions`
of every step (from ``@retry``, ``@catch``, ``@timeout``, ``@resources``,
``@environment`` and ``--with``) and answers the run loop's questions:

- may this task start now (``@resources`` against the machine's free CPUs,
  memory and GPUs)? with which environment and limits?
- when must it be stopped (``@timeout``)?
- it failed: retry it later (``@retry``), run the ``@catch`` fallback, or fail
  the run?
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grange.decorators.catch import qualified_name
from grange.decorators.options import TaskOptions
from grange.decorators.timeout import TimeoutException
from grange.runtime.resources import Allocation, ResourcePool
from grange.task.spec import TaskSpec

Notice = Callable[[str], None]


@dataclass(frozen=True)
class Retry:
    spec: TaskSpec  # the next attempt
    at: float  # monotonic time it may start


@dataclass(frozen=True)
class Fallback:
    spec: TaskSpec  # the @catch attempt: no user code, the exception kept


@dataclass(frozen=True)
class GiveUp:
    pass


Decision = Retry | Fallback | GiveUp


class AttemptPolicy:
    """Per-step options applied to every attempt of a run."""

    def __init__(
        self,
        options: dict[str, TaskOptions],
        pool: ResourcePool,
        *,
        decospecs: tuple[str, ...] = (),
        notice: Notice = print,
    ) -> None:
        self.options = options
        self.pool = pool
        self.decospecs = decospecs
        self.notice = notice
        self._allocations: dict[tuple[str, int], Allocation] = {}
        self._noticed: set[str] = set()

    def of(self, step: str) -> TaskOptions:
        return self.options.get(step) or TaskOptions()

    # -- starting ---------------------------------------------------------------

    def admit(self, spec: TaskSpec) -> TaskSpec | None:
        """``spec`` ready to launch (with its environment and limits), or None
        when the machine has not enough free for it yet."""
        options = self.of(spec.step)
        # A task in a Kubernetes pod takes nothing of this machine (a @catch fallback,
        # which runs here, asks for nothing either).
        remote = options.kubernetes is not None
        allocation = self.pool.try_acquire(None if remote else options.resources)
        if allocation is None:
            return None
        self._allocations[(spec.task_id, spec.attempt)] = allocation
        if allocation.oversized and options.resources and spec.step not in self._noticed:
            self._noticed.add(spec.step)
            r = options.resources
            self.notice(
                f"Step '{spec.step}' asks for cpu={r.cpu:g}, memory={r.memory} MiB, gpu={r.gpu}, more "
                f"than this machine has ({self.pool.machine.cpus:g} CPUs, {self.pool.machine.memory} MiB, "
                f"{len(self.pool.machine.gpus)} GPUs): its tasks run alone, with what the machine has."
            )
        extra: dict[str, Any] = dict(spec.extra)
        env = dict(options.env)
        if self.pool.machine.gpus:
            env.update(allocation.env())
        if env:
            extra["env"] = env
        if options.timeout:
            extra["timeout"] = options.timeout
        if self.decospecs:
            extra["with"] = list(self.decospecs)
        return dataclasses.replace(spec, extra=extra, max_user_retries=options.retries)

    def release(self, spec: TaskSpec) -> None:
        allocation = self._allocations.pop((spec.task_id, spec.attempt), None)
        if allocation is not None:
            self.pool.release(allocation)

    def deadline(self, spec: TaskSpec, started: float, *, startup: float = 0.0) -> float | None:
        """Monotonic time at which the runtime stops the attempt: a little after the
        task's own alarm (which counts from the step's start and gives a traceback
        where user code was), plus ``startup`` — the allowance of a launcher whose
        tasks import the flow file first (a fresh interpreter). The backstop is for
        code the alarm cannot interrupt (inside a C extension)."""
        timeout = self.of(spec.step).timeout
        if not timeout or "catch" in spec.extra:
            return None
        return started + timeout + 2.0 + startup

    # -- after a failure --------------------------------------------------------------

    def after_failure(self, spec: TaskSpec, exception: dict[str, Any] | None) -> Decision:
        options = self.of(spec.step)
        if "catch" in spec.extra:
            return GiveUp()  # the fallback itself failed: nothing more to try
        if spec.attempt < options.retries:
            nxt = dataclasses.replace(spec, attempt=spec.attempt + 1)
            return Retry(nxt, time.monotonic() + options.retry_delay)
        if options.catch:
            extra = dict(spec.extra)
            extra["catch"] = {
                "var": options.catch_var,
                "print": options.print_exception,
                "exception": exception or {"type": "Unknown", "message": "the task failed"},
            }
            return Fallback(dataclasses.replace(spec, attempt=spec.attempt + 1, extra=extra))
        return GiveUp()


TIMEOUT_TYPE = qualified_name(TimeoutException)  # as a task's own alarm records it


def timeout_exception(spec: TaskSpec, seconds: float) -> dict[str, Any]:
    """What a task stopped at its deadline is recorded as having raised."""
    message = f"step '{spec.step}' timed out after {seconds:g} seconds (task {spec.pathspec}, attempt {spec.attempt})"
    text = (
        f"TimeoutException: {message}; it did not stop at the deadline (busy in code "
        "that does not see signals, such as a C extension), so the runtime killed it"
    )
    return {"type": TIMEOUT_TYPE, "message": message, "traceback": "", "text": text}


# What a signal means, for the line a task's log ends with (Metaflow's says "segmentation fault").
_MEANING = {
    "SIGSEGV": " (segmentation fault)",
    "SIGBUS": " (bus error)",
    "SIGABRT": " (aborted)",
    "SIGFPE": " (floating-point exception)",
    "SIGILL": " (illegal instruction)",
}


def died_exception(exit_code: int) -> dict[str, Any]:
    """What a task process that ended without recording a result is recorded as."""
    if exit_code < 0:
        import signal

        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        message = f"the task process was killed by {name}{_MEANING.get(name, '')} before it recorded a result"
    else:
        message = f"the task process exited with code {exit_code} before it recorded a result"
    return {"type": "WorkerDied", "message": message}
