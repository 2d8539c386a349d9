"""``@step``: marks a method of a FlowSpec as a step of the flow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from grange.decorators.base import PENDING, STEP_MARK, DecoratorProblem, _record_problem

F = TypeVar("F", bound=Callable[..., Any])


def step(func: F) -> F:
    """Mark ``func`` as a step. It must be the decorator closest to ``def``."""
    if not callable(func):
        raise TypeError("@step decorates a method: write @step directly above 'def'")
    for deco in getattr(func, PENDING, ()):
        _record_problem(
            func,
            DecoratorProblem(
                deco.name,
                f"@{deco.name} is placed below @step",
                f"move @{deco.name} above @step: @step must be the decorator closest to 'def'",
            ),
        )
    setattr(func, STEP_MARK, True)
    return func


def is_step(obj: object) -> bool:
    """True for a function (or bound method) marked with ``@step``."""
    return bool(getattr(obj, STEP_MARK, False))
