"""What every step decorator shares: argument checking and attachment to a step.

A decorator never wraps the user's function. It records itself on the function
(``func.__grange_decorators__``) and returns the same function, so the source
that the graph parser reads is the user's own and ``@step`` stays the innermost
decorator. Mistakes made while decorating (unknown arguments, a decorator below
``@step``) are recorded on the function too and reported by lint with the file
and line, instead of raising from inside a class body.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from grange.exceptions import DecoratorError

if TYPE_CHECKING:
    from grange.decorators.options import TaskOptions

F = TypeVar("F", bound=Callable[..., Any])

STEP_MARK = "__grange_step__"
DECORATORS = "__grange_decorators__"
PENDING = "__grange_pending__"
PROBLEMS = "__grange_problems__"


class StepShape(Protocol):
    """What a decorator is told about the step it is on.

    The decorators package owns this interface and the graph provides it
    (:class:`grange.graph.model.StepNode` has these attributes), so that the
    decorators never import the graph: ``graph`` sits above ``decorators``.
    """

    @property
    def name(self) -> str:
        """The step's name."""
        ...

    @property
    def type(self) -> str:
        """Its shape: ``start``, ``linear``, ``split-static``, ``split-foreach``,
        ``split-parallel``,
        ``split-switch``, ``join`` or ``end``."""
        ...


@dataclass(frozen=True)
class DecoratorProblem:
    """A misuse noticed while decorating, reported later by lint."""

    decorator: str
    message: str
    fix: str


class StepDecorator:
    """Base class of step decorators such as ``@retry`` or ``@resources``.

    Subclasses set ``name`` (as written after ``@``) and ``defaults`` (every
    accepted argument with its default). ``attributes`` holds the defaults
    updated with what the user gave.
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    allow_multiple: ClassVar[bool] = False

    def __init__(
        self, attributes: dict[str, Any] | None = None, *, statically_defined: bool = True
    ) -> None:
        self.attributes: dict[str, Any] = with_defaults(self.name, self.defaults, attributes)
        self.statically_defined = statically_defined
        # Arguments holding config values (``cpu=config.cpu``) have no value until the
        # flow's configs are bound (grange.graph.configs): checked then, not now.
        self.config_source: dict[str, Any] | None = (
            dict(attributes or {}) if has_delayed(attributes) else None
        )
        if self.config_source is None:
            self.validate()

    def validate(self) -> None:
        """Check ``self.attributes``; raise :class:`DecoratorError` if unusable."""

    # -- hooks ---------------------------------------------------------------
    # Every hook takes keyword arguments only. Runtime-side hooks run in the
    # process that schedules tasks (the local runtime, or a deployer that
    # compiles the flow); task-side hooks run in the task's own process,
    # around the user's step. A decorator overrides the hooks it needs.

    def step_init(self, *, node: StepShape) -> str | None:
        """Runtime side, before anything runs: why this decorator cannot go on
        ``node`` (lint reports it with the decorator's line), or None."""
        return None

    def flow_attributes(self) -> tuple[str, ...]:
        """The attributes of ``self`` this decorator sets in the step (``@catch(var=...)``).

        Lint refuses one that is a parameter, a step or an attribute every flow
        already has: setting it would hide or replace that.
        """
        return ()

    @classmethod
    def sibling_problems(cls, attributes: Sequence[dict[str, Any]]) -> list[tuple[int, str, str]]:
        """Lint, for a decorator with ``allow_multiple``: what is wrong with these
        decorators together on one step (their arguments, top first), as
        ``(position, message, fix)``; lint reports each at that decorator's line."""
        return []

    def task_options(self, *, options: TaskOptions) -> None:
        """Runtime side: adjust how the step's tasks are run (retries, timeout,
        resources, environment, catch). Called once per step per run."""

    def task_pre_step(self, *, flow: Any, step: str, attempt: int) -> None:
        """Task side: just before the step function is called."""

    def task_post_step(self, *, flow: Any, step: str, attempt: int) -> None:
        """Task side: just after the step function returned or raised."""

    def task_exception(
        self, *, flow: Any, step: str, attempt: int, last_attempt: bool, exception: BaseException
    ) -> bool:
        """Task side: the step raised. Return True to handle it: the attempt then
        succeeds and the flow goes on to the step's declared successors."""
        return False

    def __repr__(self) -> str:
        args = ", ".join(
            f"{k}={v!r}" for k, v in self.attributes.items() if v != self.defaults.get(k)
        )
        return f"@{self.name}({args})" if args else f"@{self.name}"


def with_defaults(
    name: str, defaults: dict[str, Any], given: dict[str, Any] | None
) -> dict[str, Any]:
    """A decorator's arguments over its ``defaults``; an unknown one is a
    :class:`DecoratorError` naming the accepted ones (step and flow decorators)."""
    given = dict(given or {})
    # ``**config.x`` is one placeholder until the configs are bound (grange.user_configs).
    unknown = sorted(k for k in set(given) - set(defaults) if not is_unpack(given[k]))
    if unknown:
        accepted = ", ".join(sorted(defaults)) or "no arguments"
        raise DecoratorError(
            f"@{name} got unknown argument(s) {', '.join(unknown)}",
            fix=f"@{name} accepts: {accepted}",
        )
    return {**defaults, **given}


def is_delayed(value: Any) -> bool:
    """A config value not bound yet (``config.cpu`` in a class body), known by its type's
    marker: grange.user_configs sits beside this package, which never imports it."""
    return getattr(type(value), "_grange_delayed", False) is True


def is_unpack(value: Any) -> bool:
    """``**config.x`` in a decorator's arguments, before the configs are bound."""
    return getattr(type(value), "_grange_unpack", False) is True


def has_delayed(value: Any) -> bool:
    """Whether ``value`` is or holds (in dicts, lists, tuples, sets) a delayed config value."""
    if is_delayed(value):
        return True
    if isinstance(value, dict):
        return any(has_delayed(k) or has_delayed(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(has_delayed(v) for v in value)
    return False


def keyword_decorator(
    name: str, doc: str | None, apply: Callable[[Any, dict[str, Any]], Any]
) -> Callable[..., Any]:
    """``@name`` / ``@name(k=v)``: ``apply(target, kwargs)`` on what it decorates."""

    def decorator(target: Any = None, **kwargs: Any) -> Any:
        if target is not None and callable(target) and not kwargs:
            return apply(target, {})
        if target is not None:
            raise TypeError(f"@{name} takes keyword arguments only, e.g. @{name}(...)")
        return lambda t: apply(t, kwargs)

    decorator.__name__ = name
    decorator.__qualname__ = name
    decorator.__doc__ = doc
    return decorator


def decorators_of(func: Callable[..., Any]) -> list[StepDecorator]:
    """The grange decorators on a step function, outermost first."""
    return list(getattr(func, DECORATORS, ()))


def problems_of(func: Callable[..., Any]) -> list[DecoratorProblem]:
    """Misuses recorded while the step function was decorated."""
    return list(getattr(func, PROBLEMS, ()))


def _record_problem(func: Callable[..., Any], problem: DecoratorProblem) -> None:
    problems = list(getattr(func, PROBLEMS, ()))
    problems.append(problem)
    setattr(func, PROBLEMS, problems)


def attach(func: F, deco: StepDecorator) -> F:
    """Record ``deco`` on ``func``; note a misuse instead of raising."""
    if not getattr(func, STEP_MARK, False):
        # Decorators apply bottom-up, so a step decorator that sees a function
        # not yet marked as a step sits below @step (or there is no @step).
        pending = list(getattr(func, PENDING, ()))
        pending.append(deco)
        setattr(func, PENDING, pending)
        return func
    existing = decorators_of(func)
    if not deco.allow_multiple and any(d.name == deco.name for d in existing):
        _record_problem(
            func,
            DecoratorProblem(deco.name, f"@{deco.name} is given twice", f"keep one @{deco.name}"),
        )
        return func
    # Decorators above run later; keep the list outermost-first as written.
    setattr(func, DECORATORS, [deco, *existing])
    return func


def make_step_decorator(cls: type[StepDecorator]) -> Callable[..., Any]:
    """Turn a :class:`StepDecorator` subclass into ``@name`` / ``@name(k=v)``."""
    return keyword_decorator(cls.name, cls.__doc__, lambda f, kwargs: _apply(f, cls, kwargs))


def _apply(func: F, cls: type[StepDecorator], kwargs: dict[str, Any]) -> F:
    try:
        deco = cls(kwargs)
    except DecoratorError as err:
        _record_problem(func, DecoratorProblem(cls.name, err.message, err.fix or ""))
        return func
    return attach(func, deco)
