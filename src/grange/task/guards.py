"""What wraps a step in its task process: decorators' hooks, the ``@timeout``
alarm, the ``@environment`` variables, and the ``@catch`` fallback."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

from grange.decorators.base import StepDecorator
from grange.decorators.catch import CaughtException, FailureHandledByCatch, qualified_name
from grange.decorators.registry import parse_decospec, step_decorators
from grange.decorators.timeout import TimeoutException
from grange.task.spec import TaskSpec

# What the runtime records for a task process that ended without a result.
WORKER_DIED = "WorkerDied"


def decorators_for(flow_cls: type, spec: TaskSpec) -> list[StepDecorator]:
    """The step's own decorators and the run's ``--with`` ones; a task run outside a run
    (``spin``) names in ``extra["only_decorators"]`` the ones whose hooks apply."""
    extra = [parse_decospec(s) for s in spec.extra.get("with", ())]
    decorators = step_decorators(getattr(flow_cls, spec.step), extra)
    only = spec.extra.get("only_decorators")
    if only is not None:
        decorators = [d for d in decorators if d.name in only]
    return decorators


def has_cards(decorators: list[StepDecorator]) -> bool:
    """Whether the step has ``@card`` (then grange.task.cards handles its cards)."""
    return any(d.name == "card" for d in decorators)


def apply_environment(spec: TaskSpec) -> None:
    """``@environment`` variables (and assigned GPUs) for this task's process."""
    env = spec.extra.get("env")
    if env:
        os.environ.update({k: str(v) for k, v in env.items()})


def timeout_seconds(spec: TaskSpec) -> float:
    """The step's ``@timeout`` in seconds, or 0 when it has none."""
    return float(spec.extra.get("timeout") or 0)


@contextlib.contextmanager
def alarm(spec: TaskSpec) -> Iterator[None]:
    """Raise :class:`TimeoutException` in the step once its ``@timeout`` passes.

    Works when the step runs Python code or sleeps; code stuck inside a C
    extension does not see the signal, so the runtime also stops the process
    a moment after the deadline.
    """
    seconds = timeout_seconds(spec)
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutException(
            f"step '{spec.step}' timed out after {seconds:g} seconds "
            f"(task {spec.pathspec}, attempt {spec.attempt})"
        )

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def caught_value(spec: TaskSpec) -> tuple[str | None, CaughtException, bool]:
    """For a ``@catch`` fallback attempt: the variable, what it holds, and
    whether to print the exception."""
    info = spec.extra["catch"]
    exc = info.get("exception") or {}
    if exc.get("type", WORKER_DIED) in (WORKER_DIED, "Unknown"):
        # No Python exception to keep: the process died (as Metaflow, say @catch handled
        # a failure that came from outside the step's code, and how the process ended).
        died = str(exc.get("message") or "the task process ended without a result")
        value = CaughtException(
            qualified_name(FailureHandledByCatch),
            f"the step's code raised no exception, but its last attempt failed: {died}",
        )
    else:
        value = CaughtException(
            str(exc.get("type", "Exception")),
            str(exc.get("message", "")),
            str(exc.get("traceback", "")),
        )
    return info.get("var"), value, bool(info.get("print", True))
