"""How a step's tasks are run: the :class:`TaskOptions` that step decorators fill in.

The runtime starts from the defaults, lets every decorator of the step (its
own, then those added with ``--with``) adjust them through
:meth:`StepDecorator.task_options`, and runs each task accordingly. Remote
compute layers read the same values.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Resources:
    """What one task asks of the machine (``@resources``)."""

    cpu: float = 1
    gpu: int = 0
    memory: int = 4096  # MiB
    disk: int | None = None  # MiB
    shared_memory: int | None = None  # MiB


@dataclass
class TaskOptions:
    """Everything the runtime needs to know to run one step's tasks."""

    retries: int = 0  # user-code retries after the first attempt (@retry)
    retry_delay: float = 0.0  # seconds between attempts
    timeout: float | None = None  # seconds per attempt (@timeout)
    catch_var: str | None = None  # @catch: artifact receiving the exception
    catch: bool = False  # @catch present: the task continues after its last failure
    print_exception: bool = True
    # None: the step did not ask (no @resources): it reserves nothing locally
    # and only --max-workers bounds it, as in Metaflow.
    resources: Resources | None = None
    env: dict[str, str] = field(default_factory=dict)  # @environment

    @property
    def max_attempts(self) -> int:
        """Attempts running user code (a @catch fallback comes on top)."""
        return 1 + self.retries
