"""``FlowSpec``: the class a user's flow derives from, and ``self.next``.

Instantiating a flow class in the flow file (``MyFlow()`` under
``if __name__ == "__main__"``) starts the flow's command line, as in Metaflow.
The task executor creates instances with ``use_cli=False``.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from grange.decorators.step import is_step
from grange.exceptions import FlowDefinitionError, InvalidNextError, ParameterAssignmentError
from grange.parameters import Parameter, flow_constants, user_frame

_NEXT_KEYWORDS = ("foreach", "condition")


def _read_only_constant(name: str, what: str) -> ParameterAssignmentError:
    """``self.<constant> = ...`` in a step: an AttributeError at the user's line, as the
    read-only property it is in Metaflow."""
    frame = user_frame()
    kind = "a constant of the flow (a class attribute)"
    if name in _configs_of(frame):
        kind = "a config of the flow (Config)"
    return ParameterAssignmentError(
        f"'{name}' is {kind}: it is read-only and cannot be {what} in a step",
        file=frame.f_code.co_filename,
        line=frame.f_lineno,
        fix=f"store the changed value under another name, e.g. self.{name}_used = ...",
    )


def _configs_of(frame: Any) -> set[str]:
    """The config attributes of the flow whose step runs in ``frame`` (its ``self``)."""
    flow = frame.f_locals.get("self")
    klass = type(flow) if flow is not None else object
    return {
        attr
        for k in klass.__mro__
        for attr, value in vars(k).items()
        if getattr(type(value), "_grange_config", False)
    }


@dataclass(frozen=True)
class Transition:
    """What a step's ``self.next(...)`` asked for, recorded at run time."""

    steps: tuple[str, ...]
    foreach: str | None = None
    num_parallel: int | None = None  # a gang of @parallel tasks
    condition: str | None = None
    case: Any = None
    cases: dict[Any, str] = field(default_factory=dict)
    line: int | None = None


class FlowSpec:
    """Base class of every flow. Steps are methods decorated with ``@step``."""

    def __init__(self, use_cli: bool = True) -> None:
        self._transition: Transition | None = None
        if use_cli:
            if type(self) is FlowSpec:
                _refuse_base_class(sys._getframe(1))
            from grange.cli.flow import run_flow_cli

            run_flow_cli(type(self))

    @property
    def name(self) -> str:
        """The flow's name: its class name."""
        return type(self).__name__

    # -- artifacts and foreach, answered by the running task's context ---------

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: an artifact not loaded yet.
        if name.startswith("__"):
            raise AttributeError(name)
        if name in ("input", "index"):
            # The property raised AttributeError; say why instead of "no artifact".
            self._foreach_ctx(name)
        declared = getattr(type(self), name, None)
        if isinstance(declared, Parameter):
            declared.__get__(self, type(self))  # raises, saying why there is no value
        ctx = self.__dict__.get("_grange_task")
        if ctx is not None:
            try:
                value = ctx.load_artifact(name)
            except KeyError:
                pass
            else:
                self.__dict__[name] = value
                return value
            known = sorted(
                set(ctx.artifact_names()) | {k for k in self.__dict__ if not k.startswith("_")}
            )
            hint = difflib.get_close_matches(name, known, n=1)
            raise AttributeError(
                f"step '{ctx.spec.step}' has no artifact '{name}'"
                + (f" — did you mean '{hint[0]}'?" if hint else "")
                + (
                    " (a join starts empty: read branches through inputs, or merge_artifacts(inputs))"
                    if ctx.is_join
                    else ""
                )
            )
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in flow_constants(type(self)):
            raise _read_only_constant(name, "assigned")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if name in flow_constants(type(self)):
            raise _read_only_constant(name, "deleted")
        object.__delattr__(self, name)

    @property
    def input(self) -> Any:
        """The item of the enclosing foreach that this task processes."""
        return self._foreach_ctx("input").foreach_input()

    @property
    def index(self) -> int:
        """The position of ``self.input`` in the foreach's items."""
        return self._foreach_ctx("index").foreach_index()

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """``(index, number of splits, item)`` for each enclosing foreach, outermost first."""
        ctx = self.__dict__.get("_grange_task")
        return ctx.foreach_stack() if ctx is not None else []

    def merge_artifacts(
        self, inputs: Any, exclude: list[str] | None = None, include: list[str] | None = None
    ) -> None:
        """In a join, take every artifact the branches agree on (not already set on self).

        An artifact whose value differs between branches is an error naming it
        and the branches; set it on ``self`` first, or ``exclude=`` it.
        """
        ctx = self.__dict__.get("_grange_task")
        if ctx is None:
            raise InvalidNextError("merge_artifacts() works only while a flow runs")
        ctx.merge(self.__dict__, inputs, list(include or ()), list(exclude or ()))

    def _foreach_ctx(self, what: str) -> Any:
        ctx = self.__dict__.get("_grange_task")
        if ctx is None or not ctx.in_foreach:
            step = ctx.spec.step if ctx is not None else "this step"
            raise AttributeError(
                f"self.{what} is only set inside a foreach, and {step!r} is not in one"
            )
        return ctx

    def next(
        self,
        *dsts: Any,
        foreach: str | None = None,
        condition: str | None = None,
        num_parallel: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Name the step(s) that run after this one.

        - ``self.next(self.b)``: go on to ``b``;
        - ``self.next(self.b, self.c)``: run ``b`` and ``c`` in parallel (join later);
        - ``self.next(self.b, foreach="items")``: run ``b`` once per item of ``self.items``;
        - ``self.next({"x": self.b, "y": self.c}, condition="attr")``: run the step
          whose key equals ``self.attr``;
        - ``self.next(self.b, num_parallel=4)``: run the ``@parallel`` step ``b`` as a
          gang of 4 tasks started together.
        """
        frame = sys._getframe(1)
        line = frame.f_lineno
        step = frame.f_code.co_name

        def fail(message: str, fix: str) -> InvalidNextError:
            return InvalidNextError(
                message, file=frame.f_code.co_filename, line=line, step=step, fix=fix
            )

        if kwargs:
            name = sorted(kwargs)[0]
            raise fail(
                f"self.next() got an unknown keyword '{name}'",
                "self.next() accepts foreach='attr', condition='attr' or num_parallel=N",
            )
        if self._transition is not None:
            raise fail(
                "self.next() is called more than once in this step",
                "call self.next() exactly once, as the last statement of the step",
            )
        if num_parallel is not None:
            self._transition = self._parallel_transition(
                dsts, num_parallel, foreach, condition, line, fail
            )
            return
        if len(dsts) == 1 and isinstance(dsts[0], dict):
            self._transition = self._switch_transition(dsts[0], foreach, condition, line, fail)
            return
        if condition is not None:
            raise fail(
                "condition= needs a dict of cases as the only argument",
                "write self.next({'a': self.step_a, 'b': self.step_b}, condition='attr')",
            )
        if not dsts:
            raise fail(
                "self.next() needs at least one step",
                "pass the next step, e.g. self.next(self.end)",
            )
        names = tuple(self._step_name(d, fail) for d in dsts)
        if foreach is not None:
            self._check_foreach(foreach, names, fail)
        self._transition = Transition(steps=names, foreach=foreach, line=line)

    def _step_name(self, dst: Any, fail: Callable[[str, str], InvalidNextError]) -> str:
        name = getattr(dst, "__name__", None)
        if not (
            callable(dst) and is_step(dst) and name and getattr(type(self), name, None) is not None
        ):
            raise fail(
                f"{dst!r} is not a step of this flow",
                "pass steps as attributes of self, e.g. self.next(self.train)",
            )
        return name

    def _check_foreach(
        self, foreach: Any, names: tuple[str, ...], fail: Callable[[str, str], InvalidNextError]
    ) -> None:
        if not isinstance(foreach, str):
            raise fail(
                "foreach= must be the name of an attribute, as a string", "write foreach='items'"
            )
        if len(names) != 1:
            raise fail(
                "a foreach goes to exactly one step",
                "split into one step: self.next(self.b, foreach='items')",
            )
        try:
            items = getattr(self, foreach)
        except AttributeError:
            raise fail(
                f"foreach='{foreach}' names an attribute that is not set",
                f"set self.{foreach} to a list (or other iterable) before self.next()",
            ) from None
        try:
            iter(items)
        except TypeError:
            raise fail(
                f"self.{foreach} is {_article(type(items).__name__)} {type(items).__name__}, "
                "which cannot be iterated",
                f"set self.{foreach} to a list, tuple, range or other iterable",
            ) from None

    def _parallel_transition(
        self,
        dsts: tuple[Any, ...],
        num_parallel: Any,
        foreach: str | None,
        condition: str | None,
        line: int,
        fail: Callable[[str, str], InvalidNextError],
    ) -> Transition:
        if foreach is not None or condition is not None:
            raise fail(
                "num_parallel= cannot be combined with foreach= or condition=",
                "start the gang from a step of its own: self.next(self.train, num_parallel=4)",
            )
        if len(dsts) != 1 or isinstance(dsts[0], dict):
            raise fail(
                "num_parallel= goes to exactly one @parallel step",
                "write self.next(self.train, num_parallel=4)",
            )
        if not isinstance(num_parallel, int) or isinstance(num_parallel, bool) or num_parallel < 1:
            raise fail(
                f"num_parallel={num_parallel!r} is not a whole number of at least 1",
                "pass the number of tasks of the gang, e.g. num_parallel=4",
            )
        name = self._step_name(dsts[0], fail)
        return Transition(steps=(name,), num_parallel=num_parallel, line=line)

    def _switch_transition(
        self,
        cases: dict[Any, Any],
        foreach: str | None,
        condition: str | None,
        line: int,
        fail: Callable[[str, str], InvalidNextError],
    ) -> Transition:
        if foreach is not None:
            raise fail(
                "a switch cannot also be a foreach", "use either condition= or foreach=, not both"
            )
        if not isinstance(condition, str):
            raise fail(
                "a dict of cases needs condition='attr', naming the attribute to switch on",
                "write self.next({'a': self.step_a, 'b': self.step_b}, condition='attr')",
            )
        if not cases:
            raise fail("the dict of cases is empty", "give at least two cases")
        steps = {key: self._step_name(dst, fail) for key, dst in cases.items()}
        try:
            value = getattr(self, condition)
        except AttributeError:
            raise fail(
                f"condition='{condition}' names an attribute that is not set",
                f"set self.{condition} before calling self.next()",
            ) from None
        if value not in steps:
            raise fail(
                f"self.{condition} is {value!r}, which is not one of the cases "
                f"{', '.join(repr(k) for k in steps)}",
                f"set self.{condition} to one of the cases, or add a case for {value!r}",
            )
        return Transition(
            steps=(steps[value],), condition=condition, case=value, cases=steps, line=line
        )


def _refuse_base_class(frame: Any) -> None:
    """``FlowSpec()`` itself in a flow file: say which class to instantiate, and exit 2."""
    flows = sorted(
        name
        for name, value in frame.f_globals.items()
        if isinstance(value, type) and issubclass(value, FlowSpec) and value is not FlowSpec
    )
    fix = (
        f"instantiate your flow class instead: {flows[0]}()"
        if len(flows) == 1
        else "instantiate your flow class (the one deriving from FlowSpec) instead, e.g. MyFlow()"
    )
    err = FlowDefinitionError(
        "FlowSpec() starts nothing: FlowSpec is the base class, not a flow",
        file=frame.f_code.co_filename,
        line=frame.f_lineno,
        fix=fix,
    )
    print(err.render(), file=sys.stderr)
    raise SystemExit(err.exit_code)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"
