"""Step decorators (``@step`` and those that control how steps run) and flow
decorators (``@project``, ``@schedule``, ``@trigger``, ``@trigger_on_finish``, above
the flow's class).

One module per decorator; ``base`` holds the step decorators' shared machinery
and hooks, ``flow`` the flow decorators', ``options`` what the step hooks set,
``registry`` the names used by ``--with``.
"""

from grange.decorators.base import StepDecorator, decorators_of, make_step_decorator
from grange.decorators.card import card
from grange.decorators.catch import catch
from grange.decorators.environment import environment
from grange.decorators.environments import conda, conda_base, pypi, pypi_base
from grange.decorators.flow import FlowDecorator, flow_decorators_of, make_flow_decorator
from grange.decorators.kubernetes import kubernetes
from grange.decorators.parallel import parallel
from grange.decorators.project import ProjectInfo, project, project_info
from grange.decorators.resources import resources
from grange.decorators.retry import retry
from grange.decorators.schedule import schedule
from grange.decorators.secrets import secrets
from grange.decorators.step import step
from grange.decorators.timeout import timeout
from grange.decorators.trigger import trigger, trigger_on_finish

__all__ = [
    "FlowDecorator",
    "ProjectInfo",
    "StepDecorator",
    "card",
    "catch",
    "conda",
    "conda_base",
    "decorators_of",
    "environment",
    "flow_decorators_of",
    "kubernetes",
    "make_flow_decorator",
    "make_step_decorator",
    "parallel",
    "project",
    "project_info",
    "pypi",
    "pypi_base",
    "resources",
    "retry",
    "schedule",
    "secrets",
    "step",
    "timeout",
    "trigger",
    "trigger_on_finish",
]
