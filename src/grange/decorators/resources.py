"""``@resources(cpu=1, gpu=None, memory=4096, disk=None, shared_memory=None)``."""

from __future__ import annotations

from grange.decorators.base import StepDecorator, make_step_decorator
from grange.decorators.options import Resources, TaskOptions
from grange.decorators.validate import non_negative_int, non_negative_number
from grange.exceptions import DecoratorError


class ResourcesDecorator(StepDecorator):
    """What each task of the step needs: CPUs, GPUs, memory (MiB), disk (MiB).

    The local runtime starts a task only when the machine has that much free
    (a request larger than the whole machine runs alone, with a notice);
    remote compute layers (``@kubernetes``) read the same values.
    """

    name = "resources"
    defaults = {"cpu": 1, "gpu": None, "memory": 4096, "disk": None, "shared_memory": None}

    def validate(self) -> None:
        cpu = non_negative_number(self, "cpu")
        if not cpu:
            raise DecoratorError(
                "@resources(cpu=0): a task needs some CPU", fix="write cpu=1 or more"
            )
        for arg in ("gpu", "memory", "disk", "shared_memory"):
            if self.attributes[arg] is not None:
                non_negative_int(self, arg)

    def task_options(self, *, options: TaskOptions) -> None:
        a = self.attributes
        options.resources = Resources(
            cpu=float(a["cpu"]),
            gpu=int(a["gpu"] or 0),
            memory=int(a["memory"]),
            disk=a["disk"],
            shared_memory=a["shared_memory"],
        )


resources = make_step_decorator(ResourcesDecorator)
