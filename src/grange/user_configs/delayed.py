"""Config values read in a class body, before any config has a value.

``@resources(cpu=config.cpu)`` runs when the module is imported, long before
the command line says which file ``config`` comes from. ``config.cpu`` is
therefore a :class:`DelayedValue`: an expression (``"config.cpu"``) that
:func:`resolve` evaluates once the flow's configs are bound
(:func:`grange.graph.configs.bind_configs`). ``config_expr("...")`` writes the
expression by hand, for what attribute access cannot say
(``config_expr("str(config.value)")``, ``config_expr("config.name.lower()")``).

Decorators and parameters do not import this module (they sit beside it):
they know a delayed value by the class attribute ``_grange_delayed`` on its
type, and ``**config.x`` by ``_grange_unpack``.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

from grange.user_configs.value import ConfigValue

_UNPACK = "_grange_unpack_"
_ids = itertools.count()


class ConfigExprError(Exception):
    """Evaluating ``expr`` raised ``cause`` (a key the config lacks, a typo...)."""

    def __init__(self, expr: str, cause: BaseException) -> None:
        super().__init__(f"{expr}: {cause}")
        self.expr = expr
        self.cause = cause


class DelayedValue:
    """An expression over the flow's configs, evaluated when they are bound.

    Its own attributes are underscored (``_expr``, ``_globals``): any other name is a
    key of the config (``settings.search.expr`` reads the key ``expr``). ``keys`` is
    the one exception (``**settings.retry`` needs it, as in Metaflow): read a key named
    ``keys`` as ``settings["keys"]``."""

    _grange_delayed = True
    __slots__ = ("_expr", "_globals")
    _expr: str
    _globals: Mapping[str, Any] | None

    def __init__(self, expr: str, globals_: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_expr", expr)
        object.__setattr__(self, "_globals", globals_)

    def __getattr__(self, name: str) -> DelayedValue:
        if name.startswith("_"):  # copy/pickle probes, IPython's _repr_*: not a key
            raise AttributeError(name)
        return DelayedValue(f"{self._expr}.{name}", self._globals)

    def __getitem__(self, key: Any) -> DelayedValue:
        if isinstance(key, str) and key.startswith(_UNPACK):
            return DelayedUnpack(self._expr, self._globals)
        return DelayedValue(f"{self._expr}[{key!r}]", self._globals)

    def keys(self) -> list[str]:
        """``**config.x`` in a decorator's arguments: one placeholder key, expanded
        into the mapping's keys when the configs are bound."""
        return [f"{_UNPACK}{next(_ids)}"]

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(
            f"{self._expr} has no value yet (configs are read when the flow starts): it "
            "cannot be iterated in the class body; use it as a decorator or Parameter argument"
        )

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise TypeError("a config is read-only")

    def __bool__(self) -> bool:
        raise TypeError(
            f"{self._expr} has no value yet (configs are read when the flow starts): it "
            "cannot be tested in the class body; use config_expr('...') for a condition"
        )

    def _no_value(self, what: str, *_args: Any) -> NoReturn:
        raise TypeError(
            f"{self._expr} has no value in the class body (configs are read when the flow "
            f"starts), so it cannot be {what}: write the whole expression as "
            f'config_expr("..."), e.g. config_expr("str({self._expr})") or '
            f'config_expr("{self._expr} * 2"), and pass that to the decorator or Parameter'
        )

    def __str__(self) -> str:
        self._no_value("turned into text")

    def __format__(self, spec: str) -> str:
        self._no_value("formatted (f-string)")

    def __eq__(self, other: object) -> bool:
        self._no_value("compared")

    def __ne__(self, other: object) -> bool:
        self._no_value("compared")

    __hash__ = object.__hash__

    def __lt__(self, other: Any) -> bool:
        self._no_value("compared")

    __le__ = __gt__ = __ge__ = __lt__

    def __add__(self, other: Any) -> Any:
        self._no_value("used in arithmetic")

    __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = __add__
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __pow__ = __rpow__ = __add__
    __and__ = __rand__ = __or__ = __ror__ = __xor__ = __rxor__ = __matmul__ = __add__

    def __neg__(self) -> Any:
        self._no_value("used in arithmetic")

    __pos__ = __abs__ = __invert__ = __neg__

    def __int__(self) -> int:
        self._no_value("converted to a number")

    __float__ = __index__ = __complex__ = __round__ = __int__

    def __len__(self) -> int:
        self._no_value("measured (len)")

    def __contains__(self, item: Any) -> bool:
        self._no_value("searched (in)")

    def __copy__(self) -> DelayedValue:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, Any]) -> DelayedValue:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        module = self._globals.get("__name__") if self._globals is not None else None
        return (_rebuilt, (type(self), self._expr, module))

    def _evaluate(self, configs: Mapping[str, Any]) -> Any:
        """The expression's value, the bound configs by name; the error raised by
        the expression (a missing key: ``AttributeError``/``KeyError``) propagates."""
        scope = dict(self._globals) if self._globals is not None else {}
        try:
            return eval(self._expr, scope, dict(configs))  # the user's own expression
        except Exception as exc:
            raise ConfigExprError(self._expr, exc) from exc

    def __repr__(self) -> str:
        return f"config_expr({self._expr!r})"


def _rebuilt(cls: type[DelayedValue], expr: str, module: str | None) -> DelayedValue:
    """A delayed value unpickled: its names are those of the module it was written in."""
    import importlib

    scope = vars(importlib.import_module(module)) if module else None
    return cls(expr, scope)


class DelayedUnpack(DelayedValue):
    """``**config.x``: the mapping ``config.x``, whose keys become arguments."""

    _grange_unpack = True
    __slots__ = ()

    def __repr__(self) -> str:
        return f"**{self._expr}"


def config_expr(expr: str) -> DelayedValue:
    """An expression over the flow's configs, evaluated once they have values.

    ``@project(name=config_expr("config").project_name)``,
    ``@environment(vars={"N": config_expr("str(config.n)")})``: ``expr`` may use
    any config by name and the names of the module it is written in.
    """
    if not isinstance(expr, str) or not expr.strip():
        raise TypeError("config_expr() takes a Python expression as a string, e.g. 'config.cpu'")
    try:
        compile(expr, "<config_expr>", "eval")
    except SyntaxError as exc:
        raise SyntaxError(f"config_expr({expr!r}) is not a Python expression: {exc.msg}") from None
    caller = sys._getframe(1).f_globals
    return DelayedValue(expr.strip(), caller)


def is_delayed(value: Any) -> bool:
    return getattr(type(value), "_grange_delayed", False) is True


def has_delayed(value: Any) -> bool:
    """Whether ``value`` is, or holds (in dicts, lists, tuples, sets), a delayed value."""
    if is_delayed(value):
        return True
    if isinstance(value, Mapping):
        return any(has_delayed(k) or has_delayed(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(has_delayed(v) for v in value)
    return False


def resolve(value: Any, configs: Mapping[str, Any]) -> Any:
    """``value`` with every delayed value in it evaluated (containers rebuilt);
    a ``**config.x`` key of a dict is replaced by the mapping's items."""
    if is_delayed(value):
        return value._evaluate(configs)
    if isinstance(value, Mapping) and not isinstance(value, ConfigValue):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if getattr(type(v), "_grange_unpack", False):
                unpacked = v._evaluate(configs)
                if unpacked is None:
                    continue
                if not isinstance(unpacked, Mapping):
                    raise ConfigExprError(
                        f"**{v._expr}",
                        TypeError(f"it is {type(unpacked).__name__}, not a mapping"),
                    )
                out.update(unpacked)
            else:
                out[resolve(k, configs)] = resolve(v, configs)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        return type(value)(resolve(v, configs) for v in value)
    return value
