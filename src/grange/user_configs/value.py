"""``ConfigValue``: a config's value in a step, a read-only dict with attribute access.

``self.config.cpu`` and ``self.config["cpu"]`` read the same key; nested
mappings are ConfigValues too (``self.config.model.layers``), lists and tuples
keep their type with their mappings wrapped. Any change (``config.x = 1``,
``config["x"] = 1``, ``update``, ``pop``...) raises ``TypeError``, as in
Metaflow. It is a ``dict`` subclass, so ``json.dumps``, ``isinstance(v, dict)``
and ``**config`` work; ``to_dict()`` gives plain dicts back (what a run stores).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, NoReturn


def _immutable(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise TypeError("ConfigValue is immutable: a config is read-only in a flow")


class ConfigValue(dict[Any, Any]):
    """A config's value: keys readable as attributes or items, never changed."""

    def __init__(self, data: Mapping[Any, Any] | None = None) -> None:
        dict.__init__(self, {k: _wrap(v) for k, v in (data or {}).items()})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(_missing(self, name)) from None

    def __missing__(self, key: Any) -> NoReturn:
        raise KeyError(_missing(self, key))

    __setattr__ = _immutable
    __delattr__ = _immutable
    __setitem__ = _immutable
    __delitem__ = _immutable
    __ior__ = _immutable
    clear = _immutable
    pop = _immutable
    popitem = _immutable
    setdefault = _immutable
    update = _immutable

    @classmethod
    def fromkeys(cls, iterable: Any, value: Any = None) -> ConfigValue:
        """A ConfigValue with the keys of ``iterable``, each mapped to ``value``."""
        return cls(dict.fromkeys(iterable, value))

    def to_dict(self) -> dict[Any, Any]:
        """The value as plain dicts and lists (a copy)."""
        return _unwrap(self)

    def copy(self) -> ConfigValue:
        return self

    def __copy__(self) -> ConfigValue:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> ConfigValue:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (ConfigValue, (self.to_dict(),))

    def __repr__(self) -> str:
        return f"ConfigValue({dict.__repr__(self)})"

    __hash__ = None


def _missing(value: ConfigValue, key: Any) -> str:
    keys = [str(k) for k in value]
    close = difflib.get_close_matches(str(key), keys, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"the config has no key {key!r} (keys: {', '.join(keys) or 'none'}){hint}"


def _wrap(obj: Any) -> Any:
    if isinstance(obj, ConfigValue):
        return obj
    if isinstance(obj, Mapping):
        return ConfigValue(obj)
    if isinstance(obj, (list, tuple, set, frozenset)):
        return type(obj)(_wrap(x) for x in obj)
    return obj


def _unwrap(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: _unwrap(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return type(obj)(_unwrap(x) for x in obj)
    return obj


def wrapped(value: Any, plain: bool) -> Any:
    """What a step sees for a config's stored ``value`` (``plain``: as it is)."""
    if value is None or plain or not isinstance(value, Mapping):
        return value
    return ConfigValue(value)


def plain_copy(value: Any) -> Any:
    """A config's value as plain dicts and lists (what a run stores)."""
    return _unwrap(value)
