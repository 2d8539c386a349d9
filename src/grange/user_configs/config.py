"""``Config``: a flow's configuration, read when its command line starts.

``config = Config("config", default="config.json")`` in a flow's class body
declares it; ``--config config other.json`` or ``--config-value config
'{"cpu": 4}'`` give another value for one run. In the class body, ``config.cpu``
is a delayed value (:mod:`grange.user_configs.delayed`) that decorators and
parameters may take as an argument; in a step, ``self.config`` is the
:class:`~grange.user_configs.value.ConfigValue` the run was started with.

A ``Config`` is not a ``Parameter`` (it is not an option of ``run``, and a run
stores it as a plain dict, as Metaflow does); it is a descriptor: the class
keeps the bound values (``_grange_config_values``, set by
:func:`grange.graph.configs.bind_configs`).
"""

from __future__ import annotations

import keyword
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

from grange.user_configs.delayed import _UNPACK, DelayedUnpack, DelayedValue
from grange.user_configs.value import plain_copy, wrapped

#: Where the bound values live on a flow class: ``{attribute: (value, plain)}``.
BOUND = "_grange_config_values"
#: Beside it: ``{attribute: what self.<attribute> gives}``, built once per binding.
WRAPPED = "_grange_config_wrapped"
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


class Config:
    """A configuration of the flow: a mapping read from a file or given as JSON.

    ``Config(name, default=None, default_value=None, help=None, required=None,
    parser=None, plain=False)``:

    - ``default``: a file read when nothing else is given (a path, or a function
      of the parameter context returning one);
    - ``default_value``: the value itself when nothing else is given: a dict, a
      JSON string, or a function of the context returning either;
    - ``parser``: turns the file's (or the value's) text into a mapping: a
      function, or its dotted import name (``"grange.yaml_parser"``); without
      one the text is JSON;
    - ``plain=True``: the value is given to steps as it is, not as a
      :class:`ConfigValue` (it need not be a mapping);
    - ``required=True``: a run without a value is refused.

    Resolution, first found: ``--config``/``--config-value`` (or
    ``GRANGE_FLOW_CONFIG``/``GRANGE_FLOW_CONFIG_VALUE``), ``default``,
    ``default_value``, ``None``.
    """

    _grange_config = True  # how parameters and lint know a Config without importing it
    name: str
    default: Any
    default_value: Any
    help: str | None
    required: bool
    parser: Any
    plain: bool
    _plain_given: Any
    show_default: bool
    attribute: str | None
    unknown_arguments: list[str]

    def __init__(
        self,
        name: str,
        default: str | Callable[[Any], str] | None = None,
        default_value: Any = None,
        help: str | None = None,
        required: bool | None = None,
        parser: str | Callable[[str], Any] | None = None,
        plain: bool | None = False,
        show_default: bool = True,
        **kwargs: Any,
    ) -> None:
        d = self.__dict__
        d["name"] = name
        d["default"] = default
        d["default_value"] = default_value
        d["help"] = help
        d["required"] = bool(required)
        d["parser"] = parser
        d["plain"] = plain is True
        d["_plain_given"] = plain
        d["show_default"] = show_default
        d["attribute"] = None
        d["unknown_arguments"] = sorted(kwargs)

    # -- in the class body: delayed values ------------------------------------

    @property
    def ident(self) -> str:
        """The name under which expressions see this config (``-`` read as ``_``)."""
        return str(self.name).replace("-", "_")

    def __getattr__(self, key: str) -> DelayedValue:
        if key.startswith("_"):
            raise AttributeError(key)
        return DelayedValue(f"{self.ident}.{key}")

    def __getitem__(self, key: Any) -> DelayedValue:
        if isinstance(key, str) and key.startswith(_UNPACK):
            return DelayedUnpack(self.ident)
        return DelayedValue(f"{self.ident}[{key!r}]")

    def keys(self) -> list[str]:
        """``@environment(**config)``: expanded into the config's keys when bound."""
        return DelayedValue(self.ident).keys()

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(
            f"config '{self.name}' has no value in the class body (configs are read when "
            "the flow starts); read it in a step as self." + str(self.attribute or self.ident)
        )

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.__dict__["attribute"] = attribute

    def __setattr__(self, key: str, value: Any) -> NoReturn:
        raise TypeError(f"config '{self.name}' is read-only")

    # -- on a flow instance: the bound value ----------------------------------

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        cache = getattr(type(instance), WRAPPED, None)
        if cache is not None and self.attribute in cache:
            return cache[self.attribute]
        bound = getattr(type(instance), BOUND, None)
        if bound is None or self.attribute not in bound:
            raise AttributeError(
                f"config '{self.name}' has no value: configs are bound when the flow's "
                "command line starts (or by grange.testing)"
            )
        value, plain = bound[self.attribute]
        return wrapped(value, plain)

    def __set__(self, instance: Any, value: Any) -> NoReturn:
        raise TypeError(
            f"'{self.attribute}' is a config of the flow: it is read-only in a step "
            f"(store a changed copy under another name, e.g. self.{self.attribute}_used)"
        )

    def __delete__(self, instance: Any) -> NoReturn:
        raise TypeError(f"'{self.attribute}' is a config of the flow: it cannot be deleted")

    def _grange_stored(self, flow_cls: type) -> tuple[bool, Any]:
        """What a run stores for this config (with the parameters, as a constant): the
        bound value as plain dicts; ``(False, None)`` when the class is not bound."""
        bound = flow_cls.__dict__.get(BOUND)
        if bound is None or self.attribute not in bound:
            return False, None
        return True, plain_copy(bound[self.attribute][0])

    # -- definition -------------------------------------------------------------

    def definition_problems(self) -> list[tuple[str, str]]:
        """``(message, fix)`` for each reason this definition is unusable."""
        out = []
        if self.unknown_arguments:
            out.append(
                (
                    f"Config '{self.name}' got unknown argument(s) "
                    f"{', '.join(self.unknown_arguments)}",
                    "Config accepts: name, default, default_value, help, required, parser, "
                    "plain, show_default",
                )
            )
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            out.append(
                (
                    f"config name {self.name!r} is not valid",
                    "use letters, digits, '_' or '-', starting with a letter",
                )
            )
        elif keyword.iskeyword(self.ident):
            out.append(
                (
                    f"config name {self.name!r} is a Python keyword: expressions over the "
                    "configs (config_expr, decorator arguments) could not name it",
                    f"choose another name, e.g. Config('{self.name}_config', ...)",
                )
            )
        if self._plain_given is not None and not isinstance(self._plain_given, bool):
            out.append(
                (
                    f"plain= of config '{self.name}' is {self._plain_given!r}, not True or False",
                    "write plain=True or plain=False",
                )
            )
        default = self.default
        if default is not None and not (
            isinstance(default, (str, os.PathLike)) or callable(default)
        ):
            out.append(
                (
                    f"default= of config '{self.name}' is {type(default).__name__} "
                    f"{default!r}, not a file path",
                    "default= names a file (a path, or a function of the context returning "
                    "one); give the value itself with default_value=",
                )
            )
        value = self.default_value
        if value is not None and not (
            self.plain or isinstance(value, (Mapping, str)) or callable(value)
        ):
            out.append(
                (
                    f"default_value= of config '{self.name}' is {type(value).__name__}, not a "
                    "mapping",
                    "give a dict, a JSON string, or a function returning one; or declare the "
                    "config plain=True",
                )
            )
        if self.default is not None and self.default_value is not None:
            out.append(
                (
                    f"config '{self.name}' gives both default= (a file) and default_value= "
                    "(a value)",
                    "keep one: default='config.json' or default_value={...}",
                )
            )
        parser = self.parser
        if parser is not None and not callable(parser) and not isinstance(parser, str):
            out.append(
                (
                    f"parser= of config '{self.name}' is {parser!r}, not a function",
                    "pass a function taking the text, or its dotted import name",
                )
            )
        return out

    def __repr__(self) -> str:
        return f"Config({self.name!r})"


def flow_configs(flow_cls: type) -> dict[str, Config]:
    """The configs of a flow class and its bases, by attribute, in definition order."""
    seen: dict[str, Config] = {}
    for klass in reversed(flow_cls.__mro__):
        for attr, value in vars(klass).items():
            if isinstance(value, Config):
                seen.pop(attr, None)
                seen[attr] = value
            elif attr in seen:
                seen.pop(attr)  # replaced by something else in a subclass
    return seen


def bound_values(flow_cls: type) -> dict[str, Any] | None:
    """``{config name: value}`` bound on ``flow_cls`` (plain dicts), or None if unbound."""
    bound: Mapping[str, tuple[Any, bool]] | None = flow_cls.__dict__.get(BOUND)
    if bound is None:
        return None
    configs = flow_configs(flow_cls)
    return {configs[a].name: plain_copy(v) for a, (v, _p) in bound.items() if a in configs}
