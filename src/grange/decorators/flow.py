"""What every flow decorator shares: ``@project`` today, ``@schedule`` and ``@trigger`` next.

A flow decorator goes above ``class MyFlow(FlowSpec)``. Like a step decorator
(:mod:`grange.decorators.base`) it never wraps or replaces the class: it
records itself in the class's own ``__dict__`` (``__grange_flow_decorators__``)
and returns the class unchanged. Mistakes made while decorating (an unknown or
invalid argument, a decorator given twice, one put on a step) are recorded too
(``__grange_flow_problems__``) and reported by lint with the file and line of
the decorator, never raised from a module body.

Subclasses set ``name``, ``defaults`` (every accepted argument with its
default) and, when a flow may carry several (``@trigger`` may, ``@project``
may not), ``allow_multiple``. :func:`flow_decorators_of` collects a flow's
decorators from its base classes too, base classes first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from grange.decorators.base import (
    DecoratorProblem,
    _record_problem,
    has_delayed,
    keyword_decorator,
    with_defaults,
)
from grange.exceptions import DecoratorError

C = TypeVar("C")

FLOW_DECORATORS = "__grange_flow_decorators__"
#: On a flow class whose configs are bound: ``{base class: its flow decorators}`` for
#: each base whose decorators read configs, rebuilt with the values bound on this class
#: (the base's own list stays as it is: it serves the base and its other subclasses).
BOUND_FLOW_DECORATORS = "_grange_bound_flow_decorators"
FLOW_PROBLEMS = "__grange_flow_problems__"


class FlowShape(Protocol):
    """What a flow decorator is told about the flow it is on (the graph provides it:
    :class:`grange.graph.model.FlowGraph` has these attributes)."""

    @property
    def name(self) -> str:
        """The flow's name (its class name)."""
        ...

    @property
    def nodes(self) -> Any:
        """The steps, by name."""
        ...

    @property
    def parameters(self) -> Any:
        """The flow's parameters (each with ``name`` and ``attribute``)."""
        ...


@dataclass(frozen=True)
class FlowDecoratorProblem(DecoratorProblem):
    """A flow decorator's misuse; ``owner`` is the class it was written on.
    ``occurrence``: which of the decorators of that name written on ``owner`` it
    is about, counted from the top from 0 (None: the first); a repeated decorator
    is reported at its second (third...) occurrence."""

    owner: str = ""
    occurrence: int | None = None


class FlowDecorator:
    """Base class of flow decorators such as ``@project``.

    ``attributes`` holds the defaults updated with what the user gave;
    ``given`` the names of the arguments the user wrote (``@project(branch=)``
    and ``--branch`` may not both be given).
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    allow_multiple: ClassVar[bool] = False

    def __init__(
        self, attributes: dict[str, Any] | None = None, *, statically_defined: bool = True
    ) -> None:
        self.attributes: dict[str, Any] = with_defaults(self.name, self.defaults, attributes)
        self.given = frozenset(attributes or {})
        self.statically_defined = statically_defined
        # As for step decorators: arguments holding config values are checked once bound.
        self.config_source: dict[str, Any] | None = (
            dict(attributes or {}) if has_delayed(attributes) else None
        )
        if self.config_source is None:
            self.validate()

    def validate(self) -> None:
        """Check ``self.attributes``; raise :class:`DecoratorError` if unusable."""

    def flow_check(self, *, flow: FlowShape) -> str | None:
        """Before anything runs or is deployed: why this decorator cannot go on
        ``flow`` (lint reports it at the decorator's line), or None."""
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={self.attributes[k]!r}" for k in self.defaults if k in self.given)
        return f"@{self.name}({args})" if args else f"@{self.name}"


def make_flow_decorator(cls: type[FlowDecorator]) -> Callable[..., Any]:
    """Turn a :class:`FlowDecorator` subclass into ``@name`` / ``@name(k=v)`` for classes."""
    return keyword_decorator(cls.name, cls.__doc__, lambda t, kwargs: _apply(t, cls, kwargs))


def flow_decorators_of(flow_cls: type) -> list[FlowDecorator]:
    """The flow decorators of ``flow_cls`` and its bases, base classes first, each
    class's in the order written (top first)."""
    found: list[FlowDecorator] = []
    for klass in reversed(flow_cls.__mro__):
        found.extend(own_flow_decorators(flow_cls, klass))
    return found


def own_flow_decorators(flow_cls: type, klass: type) -> Any:
    """The flow decorators written on ``klass`` (``flow_cls`` or one of its bases), as
    ``flow_cls`` sees them (with the config values bound on ``flow_cls``)."""
    bound = flow_cls.__dict__.get(BOUND_FLOW_DECORATORS)
    if bound and klass in bound:
        return bound[klass]
    return klass.__dict__.get(FLOW_DECORATORS, ())


def flow_decorator(flow_cls: type, name: str) -> FlowDecorator | None:
    """The flow's ``@name`` decorator (the nearest class's, if misused twice), or None."""
    found = [d for d in flow_decorators_of(flow_cls) if d.name == name]
    return found[-1] if found else None


def flow_problems_of(flow_cls: type) -> list[FlowDecoratorProblem]:
    """Misuses recorded while the flow class and its bases were decorated."""
    found: list[FlowDecoratorProblem] = []
    for klass in reversed(flow_cls.__mro__):
        found.extend(klass.__dict__.get(FLOW_PROBLEMS, ()))
    return found


def _is_flow_class(target: Any) -> bool:
    # FlowSpec sits above this package: know it by name, never import it.
    return isinstance(target, type) and any(
        k.__name__ == "FlowSpec" and k.__module__ == "grange.flowspec" for k in target.__mro__
    )


def _apply(target: C, cls: type[FlowDecorator], kwargs: dict[str, Any]) -> C:
    if not isinstance(target, type):
        return _misplaced(target, cls)
    owner = target.__name__

    def problem(message: str, fix: str, occurrence: int | None = None) -> C:
        problems = [*target.__dict__.get(FLOW_PROBLEMS, ())]
        problems.append(
            FlowDecoratorProblem(cls.name, message, fix, owner=owner, occurrence=occurrence)
        )
        type.__setattr__(target, FLOW_PROBLEMS, problems)
        return target

    if not _is_flow_class(target):
        # A mixin: lint reports it in every flow that derives from it.
        return problem(
            f"@{cls.name} is on class {owner}, which does not derive from FlowSpec; a flow "
            "decorator goes on the flow's class",
            f"move @{cls.name}(...) above the class that derives from FlowSpec",
        )
    try:
        deco = cls(kwargs)
    except DecoratorError as err:
        return problem(err.message, err.fix or "")
    own = list(target.__dict__.get(FLOW_DECORATORS, ()))
    if not cls.allow_multiple:
        kept = sum(d.name == cls.name for d in own)
        if kept:
            # Decorators apply bottom-up, so the upper one is refused; a reader sees the
            # lower one as the repetition: report the 2nd (3rd...) written from the top.
            repeats = sum(
                p.decorator == cls.name and p.occurrence is not None
                for p in target.__dict__.get(FLOW_PROBLEMS, ())
            )
            return problem(
                f"@{cls.name} is given twice on {owner}",
                f"keep one @{cls.name} above the class",
                occurrence=kept + repeats,
            )
        bases = [
            k.__name__
            for k in target.__mro__[1:]
            if any(d.name == cls.name for d in k.__dict__.get(FLOW_DECORATORS, ()))
        ]
        if bases:
            return problem(
                f"@{cls.name} is given on {owner} and on its base class {bases[0]}; a flow "
                f"takes one @{cls.name}",
                f"keep @{cls.name} on one of the two classes",
            )
    # Decorators apply bottom-up: keep the list in the order written, top first.
    type.__setattr__(target, FLOW_DECORATORS, [deco, *own])
    return target


def _misplaced(target: C, cls: type[FlowDecorator]) -> C:
    """A flow decorator on a step (recorded for lint) or on something else (an error now)."""
    if not callable(target):
        raise TypeError(f"@{cls.name} goes above a flow's class, not on {target!r}")
    # Below or above @step: either way the step's lint reports it at this line.
    _record_problem(
        target,
        DecoratorProblem(
            cls.name,
            f"@{cls.name} is a flow decorator: it goes above the flow's class, not on a step",
            f"move @{cls.name}(...) above 'class ...(FlowSpec):'",
        ),
    )
    return target
