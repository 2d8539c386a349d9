"""Step decorators: ``@step`` and the machinery every other step decorator uses.

Each decorator is one module; this package's ``base`` holds what they share.
"""

from grange.decorators.base import StepDecorator, decorators_of, make_step_decorator
from grange.decorators.step import step

__all__ = ["StepDecorator", "decorators_of", "make_step_decorator", "step"]
