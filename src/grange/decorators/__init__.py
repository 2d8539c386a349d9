"""Step decorators: ``@step`` and the decorators that control how steps run.

One module per decorator; ``base`` holds the shared machinery and the hooks,
``options`` what the hooks set, ``registry`` the names used by ``--with``.
"""

from grange.decorators.base import StepDecorator, decorators_of, make_step_decorator
from grange.decorators.catch import catch
from grange.decorators.environment import environment
from grange.decorators.kubernetes import kubernetes
from grange.decorators.parallel import parallel
from grange.decorators.resources import resources
from grange.decorators.retry import retry
from grange.decorators.secrets import secrets
from grange.decorators.step import step
from grange.decorators.timeout import timeout

__all__ = [
    "StepDecorator",
    "catch",
    "decorators_of",
    "environment",
    "kubernetes",
    "make_step_decorator",
    "parallel",
    "resources",
    "retry",
    "secrets",
    "step",
    "timeout",
]
