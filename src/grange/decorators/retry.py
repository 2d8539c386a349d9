"""``@retry(times=3, minutes_between_retries=2)``: run a failed task again."""

from __future__ import annotations

from typing import Any

from grange.decorators.base import StepDecorator, make_step_decorator
from grange.decorators.options import TaskOptions
from grange.decorators.validate import non_negative_int, non_negative_number

MAX_RETRIES = 10


class RetryDecorator(StepDecorator):
    """Re-run a failed attempt of the step as a new attempt of the same task.

    ``times`` retries after the first attempt. Locally a retry starts at once,
    as in Metaflow's local runtime, unless ``minutes_between_retries`` is given
    explicitly; its default (2) is what a deployment's scheduler waits. Every
    attempt's logs and status are kept; ``current.retry_count`` tells the
    attempt number, from 0.
    """

    name = "retry"
    defaults = {"times": 3, "minutes_between_retries": 2}

    def __init__(
        self, attributes: dict[str, Any] | None = None, *, statically_defined: bool = True
    ) -> None:
        # Whether the user asked for a wait: only then does the local runtime wait.
        self.explicit_delay = "minutes_between_retries" in (attributes or {})
        super().__init__(attributes, statically_defined=statically_defined)

    def validate(self) -> None:
        non_negative_int(self, "times", maximum=MAX_RETRIES)
        non_negative_number(self, "minutes_between_retries")

    def task_options(self, *, options: TaskOptions) -> None:
        options.retries = int(self.attributes["times"])
        if self.explicit_delay:
            options.retry_delay = float(self.attributes["minutes_between_retries"]) * 60


retry = make_step_decorator(RetryDecorator)
