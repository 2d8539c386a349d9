"""Flow parameters: ``Parameter``, ``JSONType`` and ``IncludeFile``.

A parameter is a class attribute of the flow. On the class it is the
:class:`Parameter` object (so the graph and the CLI can list it); on a running
flow instance, ``self.<attribute>`` is the value given for the run.

Values arrive as text (from the command line or a scheduler) and are converted
by :meth:`Parameter.convert`, which raises a :class:`ParameterError` naming the
parameter and the type expected.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from grange.exceptions import ParameterAssignmentError, ParameterError

# The names a parameter may not take (compared after folding '-' to '_' and
# case): every option of ``run`` and ``resume`` (their names and the keywords
# click passes them under), since a parameter becomes one more option of
# ``run``. Nothing else: the top-level options (``--debug``, ``--quiet``, ...)
# live on another command. tests/unit/test_cli_params.py derives this set from
# the click commands, so the two cannot drift apart.
RESERVED_PARAMETER_NAMES = frozenset(
    {
        "force", "help", "max_num_splits", "max_workers", "namespace", "no_fork", "origin_run_id",
        "run_id_file", "run_namespace", "tag", "tags", "with", "with_decorators",
    }
)  # fmt: skip

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


class JSONTypeClass:
    """A parameter type whose values are JSON documents, parsed on the way in."""

    name = "JSON"

    def convert(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return json.loads(value)

    def __repr__(self) -> str:
        return "JSONType"


JSONType = JSONTypeClass()

_SUPPORTED_TYPES: dict[Any, str] = {str: "str", int: "int", float: "float", bool: "bool"}
_TRUE = {"true", "1", "yes", "y", "on", "t"}
_FALSE = {"false", "0", "no", "n", "off", "f"}


@dataclass(frozen=True)
class ParameterContext:
    """What a callable default receives when it is evaluated at run start."""

    flow_name: str
    user_name: str
    parameter_name: str
    logger: Callable[..., None] = field(default=print)
    ds_type: str = "local"
    configs: Any = None


def _type_name(ptype: Any) -> str:
    if ptype is JSONType or isinstance(ptype, JSONTypeClass):
        return "JSON"
    return _SUPPORTED_TYPES.get(ptype, getattr(ptype, "__name__", str(ptype)))


class Parameter:
    """A value given to a run, reachable in every step as ``self.<attribute>``.

    ``Parameter(name, default=None, type=None, help=None, required=False,
    show_default=True, separator=None, is_flag=False)``: ``type`` is one of
    ``str``, ``int``, ``float``, ``bool`` or ``JSONType``; when omitted it is
    inferred from the default (``str`` if there is none). ``default`` may be a
    callable taking a :class:`ParameterContext`, evaluated when a run starts.
    ``separator`` (for ``str`` parameters) splits the value into a list.
    ``is_flag=True`` makes a bool parameter (default ``False``) given as a bare
    ``--name`` on the command line, as Metaflow's click flag is.
    """

    def __init__(
        self,
        name: str,
        default: Any = None,
        type: Any = None,
        help: str | None = None,
        required: bool | None = None,
        show_default: bool | None = None,
        separator: str | None = None,
        is_flag: bool | None = None,
    ) -> None:
        self.name = name
        self.is_flag = bool(is_flag)
        if self.is_flag:
            type = bool if type is None else type
            default = False if default is None else default
        self.default = default
        self.help = help
        self.required = bool(required) and default is None
        self.show_default = True if show_default is None else show_default
        self.separator = separator
        self.type_given = type is not None
        self.type = self._resolve_type(type, default)
        self.attribute: str | None = None  # set by __set_name__

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        values = instance.__dict__.get("_grange_parameter_values")
        if values is None or self.attribute not in values:
            raise AttributeError(
                f"parameter '{self.name}' has no value outside a run; "
                "values are set when the flow runs"
            )
        return values[self.attribute]

    def __set__(self, instance: Any, value: Any) -> None:
        raise self._read_only(
            "assigned",
            f"store the changed value under another name, e.g. self.{self.attribute}_used = ...",
        )

    def __delete__(self, instance: Any) -> None:
        raise self._read_only(
            "deleted",
            "a parameter stays with the run; remove the del statement",
        )

    def _read_only(self, what: str, fix: str) -> ParameterAssignmentError:
        """The error for ``self.<param> = ...`` / ``del self.<param>``, at the user's line."""
        frame = user_frame()
        return ParameterAssignmentError(
            f"'{self.attribute}' is a parameter of the flow: it is read-only and cannot be "
            f"{what} in a step",
            file=frame.f_code.co_filename,
            line=frame.f_lineno,
            parameter=self.name,
            fix=fix,
        )

    # -- definition ----------------------------------------------------------

    def _resolve_type(self, ptype: Any, default: Any) -> Any:
        if ptype is None:
            if callable(default) or default is None:
                return str
            if isinstance(default, bool):
                return bool
            for candidate in (int, float, str):
                if isinstance(default, candidate):
                    return candidate
            if isinstance(default, (dict, list, tuple)):
                return JSONType
            return str
        if ptype in _SUPPORTED_TYPES or isinstance(ptype, JSONTypeClass):
            return ptype
        # Not raised here, inside the user's class body: lint reports it with
        # the file and line (see definition_problems), and values stay text.
        self._unsupported_type = ptype
        return str

    @property
    def type_name(self) -> str:
        return _type_name(self.type)

    @property
    def is_file(self) -> bool:
        return False

    def definition_problems(self) -> list[str]:
        """Reasons this definition is unusable (checked by lint)."""
        problems = []
        unsupported = getattr(self, "_unsupported_type", None)
        if unsupported is not None:
            problems.append(
                f"type {getattr(unsupported, '__name__', unsupported)!r} of parameter "
                f"'{self.name}' is not supported: use str, int, float, bool or JSONType"
            )
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            problems.append(
                f"parameter name {self.name!r} is not valid: use letters, digits, '_' or '-', "
                "starting with a letter"
            )
        elif normalized_name(self.name) in RESERVED_PARAMETER_NAMES:
            problems.append(f"parameter name '{self.name}' is reserved by grange")
        if self.is_flag and self.type is not bool:
            problems.append(f"parameter '{self.name}' has is_flag=True but is not of type bool")
        if self.separator is not None and self.type is not str:
            problems.append(f"parameter '{self.name}' has a separator but is not of type str")
        if self.default is not None and not callable(self.default) and not _delayed(self.default):
            try:
                self.convert(self.default)
            except ParameterError as err:
                problems.append(f"default of parameter '{self.name}' is invalid: {err.message}")
        return problems

    # -- values --------------------------------------------------------------

    def convert(self, value: Any) -> Any:
        """Turn a given value (usually command-line text) into the parameter's type."""
        try:
            if self.type is bool:
                converted: Any = _to_bool(value)
            elif isinstance(self.type, JSONTypeClass):
                converted = self.type.convert(value)
            elif self.type is int and (
                isinstance(value, bool) or (isinstance(value, float) and not value.is_integer())
            ):
                raise ValueError(value)
            else:
                converted = self.type(value)
        except (ValueError, TypeError) as exc:
            raise ParameterError(
                f"{value!r} is not a valid {self.type_name} value for parameter '{self.name}'",
                parameter=self.name,
                fix=f"pass a value of type {self.type_name}, e.g. --{self.name} "
                f"{_example(self.type)}",
            ) from exc
        if self.separator is not None and isinstance(converted, str):
            return converted.split(self.separator)
        return converted

    def default_value(self, flow_name: str, configs: Any = None) -> Any:
        """The default, with a callable default evaluated now; ``None`` if none.
        ``configs``: the flow's bound configs, by name (``ctx.configs`` of a default function)."""
        default = self.default
        if _delayed(default):
            raise ParameterError(
                f"the default of parameter '{self.name}' reads a config, and the flow's "
                "configs are not bound",
                parameter=self.name,
                fix="start the flow from its command line, or bind its configs first "
                "(grange.graph.configs.bind_configs)",
            )
        if callable(default):
            ctx = ParameterContext(
                flow_name=flow_name,
                user_name=current_username(),
                parameter_name=self.name,
                configs=configs,
            )
            try:
                default = default(ctx)
            except Exception as exc:
                raise ParameterError(
                    f"the default of parameter '{self.name}' raised {type(exc).__name__}: {exc}",
                    parameter=self.name,
                    fix=f"fix the default function, or pass a value with --{self.name} VALUE",
                ) from exc
        if default is None:
            return None
        return self.convert(default)

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, type={self.type_name})"


class IncludeFile(Parameter):
    """A parameter whose value is the content of a local file, read at run start.

    ``IncludeFile(name, default=path, is_text=True, encoding="utf-8",
    required=False, help=None)``: the command line takes a path; steps see the
    file's content, ``str`` when ``is_text`` (the default) else ``bytes``.
    """

    def __init__(
        self,
        name: str,
        default: Any = None,
        is_text: bool | None = None,
        encoding: str | None = None,
        required: bool | None = None,
        help: str | None = None,
        show_default: bool | None = None,
    ) -> None:
        self.is_text = True if is_text is None else is_text
        self.encoding = encoding or "utf-8"
        super().__init__(
            name, default=default, type=str, help=help, required=required, show_default=show_default
        )

    @property
    def is_file(self) -> bool:
        return True

    @property
    def type_name(self) -> str:
        return "file path"

    def definition_problems(self) -> list[str]:
        return [p for p in super().definition_problems() if "default of" not in p]

    def convert(self, value: Any) -> Any:
        path = os.fspath(value)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise ParameterError(
                f"cannot read file {path!r} for parameter '{self.name}': {exc.strerror}",
                parameter=self.name,
                fix=f"pass the path of a readable file: --{self.name} PATH",
            ) from exc
        if not self.is_text:
            return data
        try:
            return data.decode(self.encoding)
        except UnicodeDecodeError as exc:
            raise ParameterError(
                f"file {path!r} for parameter '{self.name}' is not valid {self.encoding} text",
                parameter=self.name,
                fix="pass is_text=False to read it as bytes, or give the right encoding=",
            ) from exc


def _delayed(value: Any) -> bool:
    """A config value not bound yet (``default=config.alpha``): grange.user_configs sits
    beside this module, which knows its values by their type's marker."""
    return getattr(type(value), "_grange_delayed", False) is True


def normalized_name(name: str) -> str:
    return name.replace("-", "_").lower()


def current_username() -> str:
    for var in ("GRANGE_USER", "USER", "USERNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    raise ValueError(value)


def _example(ptype: Any) -> str:
    return {str: "text", int: "3", float: "0.5", bool: "true"}.get(ptype, "'{\"key\": 1}'")


def flow_parameters(flow_cls: type) -> list[Parameter]:
    """Parameters of a flow class and its bases, in definition order."""
    seen: dict[str, Parameter] = {}
    for klass in reversed(flow_cls.__mro__):
        for attr, value in vars(klass).items():
            if isinstance(value, Parameter):
                # a copy made by binding configs keeps the place of the one it copies
                if not (attr in seen and value.__dict__.get("_grange_config_copy")):
                    seen.pop(attr, None)
                seen[attr] = value
    return list(seen.values())


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_frame() -> types.FrameType:
    """The innermost frame of the caller's stack that is not grange's own code."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    return frame


def flow_constants(flow_cls: type) -> Mapping[str, Any]:
    """The flow's constants, as Metaflow has them: public class attributes of the
    flow and its bases (not of ``FlowSpec``) that are not parameters, steps,
    functions, properties or classes. Each run stores them with its parameters,
    and a step cannot assign them (a new process reads the flow file again, so
    a change would not travel). Computed once per class, read-only."""
    cached: Mapping[str, Any] | None = flow_cls.__dict__.get("_grange_constants")
    if cached is not None:
        return cached
    found: dict[str, Any] = {}
    for klass in reversed(flow_cls.__mro__):
        if klass.__module__.startswith("grange.") or klass is object:
            continue
        for attr, value in vars(klass).items():
            stored = getattr(type(value), "_grange_stored", None)
            if stored is not None:  # a Config: its bound value, as plain dicts
                present, plain = stored(value, flow_cls)
                found.pop(attr, None)
                if present:
                    found[attr] = plain
                continue
            if attr.startswith("_") or isinstance(value, _NOT_CONSTANTS) or _delayed(value):
                found.pop(attr, None)
                continue
            found[attr] = value
    constants = types.MappingProxyType(found)
    type.__setattr__(flow_cls, "_grange_constants", constants)
    return constants


_NOT_CONSTANTS = (
    Parameter,
    types.FunctionType,
    types.MethodType,
    staticmethod,
    classmethod,
    property,
    type,
)


def configs_context(flow_cls: type) -> Any:
    """``ctx.configs`` for the default functions of ``flow_cls``'s parameters: its bound
    configs by name (set by :func:`grange.graph.configs.bind_configs`), or None."""
    return flow_cls.__dict__.get("_grange_configs_namespace")


def resolve_values(flow_cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """Values for every parameter of a run, keyed by attribute name.

    ``given`` maps parameter names (as on the command line, '-' or '_') to
    raw values; missing ones take their defaults. Raises :class:`ParameterError`
    for a bad value, a missing required parameter or an unknown name.
    """
    params = flow_parameters(flow_cls)
    by_name = {normalized_name(p.name): p for p in params}
    unknown = [k for k in given if normalized_name(k) not in by_name]
    if unknown:
        import difflib

        name = unknown[0]
        close = difflib.get_close_matches(name, [p.name for p in params], n=1)
        hint = (
            f"did you mean '{close[0]}'?"
            if close
            else ("the flow's parameters are: " + (", ".join(p.name for p in params) or "none"))
        )
        raise ParameterError(f"the flow has no parameter '{name}'", parameter=name, fix=hint)
    normalized_given = {normalized_name(k): v for k, v in given.items()}
    configs = configs_context(flow_cls)
    values: dict[str, Any] = {}
    for param in params:
        raw = normalized_given.get(normalized_name(param.name))
        if raw is not None:
            value = param.convert(raw)
        else:
            value = param.default_value(flow_cls.__name__, configs)
            if value is None and param.required:
                raise ParameterError(
                    f"parameter '{param.name}' is required and has no value",
                    parameter=param.name,
                    fix=f"pass it on the command line: --{param.name} VALUE",
                )
        assert param.attribute is not None
        values[param.attribute] = value
    return values
