"""``@timeout(seconds=, minutes=, hours=)``: stop an attempt at a deadline."""

from __future__ import annotations

from grange.decorators.base import StepDecorator, make_step_decorator
from grange.decorators.options import TaskOptions
from grange.decorators.validate import non_negative_number
from grange.exceptions import DecoratorError


class TimeoutException(Exception):
    """Raised inside a step that ran past its ``@timeout`` (recorded as
    ``grange.decorators.timeout.TimeoutException``)."""


class TimeoutDecorator(StepDecorator):
    """Stop an attempt that runs longer than ``seconds + 60*minutes + 3600*hours``.

    The runtime kills the task process at the deadline — also when user code
    is inside a C extension or sleeping — and the attempt counts as a failure
    for ``@retry`` and ``@catch``, with a message saying which step timed out
    after how long.
    """

    name = "timeout"
    defaults = {"seconds": 0, "minutes": 0, "hours": 0}

    def validate(self) -> None:
        for arg in ("seconds", "minutes", "hours"):
            non_negative_number(self, arg)
        if self.seconds <= 0:
            raise DecoratorError(
                "@timeout needs a duration above zero",
                fix="write e.g. @timeout(seconds=30), @timeout(minutes=5) or @timeout(hours=1)",
            )

    @property
    def seconds(self) -> float:
        a = self.attributes
        return float(a["seconds"]) + 60 * float(a["minutes"]) + 3600 * float(a["hours"])

    def task_options(self, *, options: TaskOptions) -> None:
        options.timeout = (
            self.seconds if options.timeout is None else min(options.timeout, self.seconds)
        )


timeout = make_step_decorator(TimeoutDecorator)
