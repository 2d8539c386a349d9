"""``@environment(vars={...})``: environment variables for the step's tasks."""

from __future__ import annotations

from grange.decorators.base import StepDecorator, make_step_decorator
from grange.decorators.options import TaskOptions
from grange.decorators.validate import mapping_of_strings


class EnvironmentDecorator(StepDecorator):
    """Set environment variables in the task's process before the step runs."""

    name = "environment"
    defaults = {"vars": {}}

    def validate(self) -> None:
        mapping_of_strings(self, "vars")

    def task_options(self, *, options: TaskOptions) -> None:
        options.env.update({k: str(v) for k, v in self.attributes["vars"].items()})


environment = make_step_decorator(EnvironmentDecorator)
