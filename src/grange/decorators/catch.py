"""``@catch(var=None, print_exception=True)``: let the flow go on after a step fails."""

from __future__ import annotations

import sys
import traceback as tb
from pathlib import Path
from typing import Any

from grange.decorators.base import StepDecorator, StepShape, make_step_decorator
from grange.decorators.options import TaskOptions
from grange.exceptions import DecoratorError

_GRANGE_DIR = str(Path(__file__).resolve().parents[1])


class CatchDecorator(StepDecorator):
    """After the step's last attempt fails (retries included), the task still
    succeeds: the exception is stored in ``self.<var>`` (if ``var`` is given)
    and the flow continues to the next step. The task is recorded as failed
    but caught. A later step (a join, say: ``input.<var>``) can inspect it.
    """

    name = "catch"
    defaults = {"var": None, "print_exception": True}
    _handled = False  # this attempt's exception was caught here (task side)

    def validate(self) -> None:
        var = self.attributes["var"]
        if var is not None and (not isinstance(var, str) or not var.isidentifier()):
            raise DecoratorError(
                f"@catch(var={var!r}): var must be the name of an attribute",
                fix="write @catch(var='compute_failed')",
            )

    def step_init(self, *, node: StepShape) -> str | None:
        if node.type in ("split-foreach", "split-parallel", "split-switch"):
            kind = {"split-foreach": "a foreach", "split-parallel": "a gang"}.get(
                node.type, "a switch"
            )
            return (
                f"@catch cannot go on step '{node.name}', which starts {kind}: after a "
                "failure there is nothing to fan out or choose"
            )
        return None

    def flow_attributes(self) -> tuple[str, ...]:
        var = self.attributes["var"]
        return (var,) if var else ()

    def task_pre_step(self, *, flow: Any, step: str, attempt: int) -> None:
        self._handled = False

    def task_post_step(self, *, flow: Any, step: str, attempt: int) -> None:
        # A step that did not fail sets the variable to None (and a later step can test
        # it), also when it holds what an earlier step's @catch(var=<same name>) caught.
        var = self.attributes["var"]
        if var and not self._handled:
            flow.__dict__[var] = None

    def task_exception(
        self, *, flow: Any, step: str, attempt: int, last_attempt: bool, exception: BaseException
    ) -> bool:
        if not last_attempt:
            return False  # @retry goes first
        caught = CaughtException.of(exception)
        if self.attributes["print_exception"]:
            print(f"@catch caught an exception in step '{step}':", file=sys.stderr)
            print(caught.traceback + str(caught), file=sys.stderr, flush=True)
        var = self.attributes["var"]
        if var:
            flow.__dict__[var] = caught
        self._handled = True
        return True

    def task_options(self, *, options: TaskOptions) -> None:
        options.catch = True
        options.catch_var = self.attributes["var"]
        options.print_exception = bool(self.attributes["print_exception"])


catch = make_step_decorator(CatchDecorator)


def qualified_name(exc: BaseException | type[BaseException]) -> str:
    """``module.Class`` of an exception (``builtins.ValueError``), as Metaflow records it."""
    cls = exc if isinstance(exc, type) else type(exc)
    return f"{cls.__module__}.{cls.__name__}"


def display_name(type_name: str) -> str:
    """How Python's traceback names a type: without ``builtins.`` or ``__main__.``."""
    for prefix in ("builtins.", "__main__."):
        if type_name.startswith(prefix):
            return type_name[len(prefix) :]
    return type_name


class FailureHandledByCatch(Exception):
    """What ``@catch`` records when the step's process ended without raising anything
    (killed by a signal, out of memory): the failure came from outside the user's code."""


class CaughtException:
    """What ``@catch(var=...)`` stores: the exception of the step's last failed attempt.

    Truthy, picklable without the original exception's class: ``type`` (its
    qualified class name, ``builtins.ValueError``, as in Metaflow), ``message``
    (also as ``exception``), ``traceback`` (the user's frames; also as
    ``stacktrace``), and ``str()`` as Python's last traceback line,
    ``"ValueError: message"``. When the step did not fail, the variable is None.
    """

    def __init__(self, type: str, message: str, traceback: str = "") -> None:
        self.type = type
        self.message = message
        self.traceback = traceback

    @classmethod
    def of(cls, exc: BaseException) -> CaughtException:
        """Wrap a live exception, keeping the user's frames of its traceback."""
        frames = [f for f in tb.extract_tb(exc.__traceback__) if _GRANGE_DIR not in f.filename]
        text = (
            "Traceback (most recent call last):\n" + "".join(tb.format_list(frames))
            if frames
            else ""
        )
        return cls(qualified_name(exc), exception_message(exc), text)

    @property
    def exception(self) -> str:
        """The message (Metaflow's wrapper calls it ``exception``)."""
        return self.message

    @property
    def stacktrace(self) -> str:
        return self.traceback

    def __bool__(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"{display_name(self.type)}: {self.message}"

    def __repr__(self) -> str:
        return f"CaughtException({self.type!r}, {self.message!r})"


def exception_message(exc: BaseException) -> str:
    """``str(exc)``, or for a step that ended the process (``sys.exit``, ``KeyboardInterrupt``)
    a sentence saying so, with the exit code."""
    if isinstance(exc, SystemExit):
        code = exc.code
        if code is None or isinstance(code, int):
            return (
                f"the step called sys.exit({'' if code is None else code}): exit code {code or 0}"
            )
        return f"the step called sys.exit({code!r}): exit code 1"
    if isinstance(exc, KeyboardInterrupt):
        text = str(exc)
        return "the step raised KeyboardInterrupt" + (f": {text}" if text else "")
    return str(exc)
