"""Binding a flow's configs: values into its decorators, parameters and steps.

:func:`bind_configs` runs once per process before anything reads the flow's
decorators (the command line does it before it builds a command; the runtime
before it forks its fork server; a task process from the values its run
passed down). It

1. checks each ``Config(...)`` definition and reads its value
   (:mod:`grange.user_configs.read`);
2. records the values on the class (``self.config`` in a step);
3. replaces every step and flow decorator, and every parameter default, that
   holds a config value (``@resources(cpu=config.cpu)``) with one built from the
   resolved arguments, checked as if written literally;
4. forgets what the class cached from its old values (graph, task facts,
   constants).

Every problem found is a lint error at the line of the ``Config(...)``, the
decorator or the parameter, all reported at once (:class:`LintError`, rule
``config``). Binding again (other values) starts again from the arguments as
written.
"""

from __future__ import annotations

import ast
import copy
import functools
import inspect
import os
import types
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from grange.decorators.base import DECORATORS, decorators_of
from grange.decorators.flow import BOUND_FLOW_DECORATORS, FLOW_DECORATORS
from grange.decorators.step import is_step
from grange.exceptions import DecoratorError, LintError, LintProblem
from grange.graph.parse import _class_location, _decorator_name, _find_class
from grange.graph.rules.steps import FLOW_ATTRIBUTES
from grange.parameters import RESERVED_PARAMETER_NAMES, flow_parameters, normalized_name
from grange.user_configs.config import BOUND, WRAPPED, Config, bound_values, flow_configs
from grange.user_configs.delayed import ConfigExprError, resolve
from grange.user_configs.read import (
    ConfigSources,
    bound_value,
    read_values,
    sources_from_env,
    unknown_config,
)
from grange.user_configs.value import wrapped

RULE = "config"
NAMESPACE = "_grange_configs_namespace"  # ctx.configs of a parameter's default function
_CACHES = ("_grange_graph", "_grange_task_facts", "_grange_constants")


def has_configs(flow_cls: type) -> bool:
    return bool(flow_configs(flow_cls))


def is_bound(flow_cls: type) -> bool:
    return BOUND in flow_cls.__dict__


def bind_configs(
    flow_cls: type,
    values: Mapping[str, Any] | None = None,
    *,
    sources: ConfigSources | None = None,
    lenient: bool = False,
) -> dict[str, Any]:
    """Bind the configs of ``flow_cls``; return ``{config name: value}`` (plain dicts).

    ``values``: final values by config name (a run's recorded ones), used as they
    are; the other configs are read from ``sources`` (the command line's; by
    default the environment's ``GRANGE_FLOW_CONFIG``/``GRANGE_FLOW_CONFIG_VALUE``)
    or their defaults. Raises :class:`LintError` naming every problem.
    A flow without configs costs a scan of its class attributes.
    """
    configs = flow_configs(flow_cls)
    if not configs:
        return {}
    where = _Where(flow_cls)
    problems: list[LintProblem] = []
    if sources is None:
        sources, errors = sources_from_env(
            os.environ, flow_dir=where.flow_dir, flow_name=flow_cls.__name__
        )
        problems += [where.config(None, m, "fix the variable, or unset it") for m in errors]
    if values is not None:
        by_name = {c.name: c for c in configs.values()}
        given: dict[str, Any] = {}
        for name, value in values.items():
            if name not in by_name:
                p = unknown_config(str(name), set(by_name))
                problems.append(where.config(None, p.message + " (in the values to bind)", p.fix))
                continue
            given[name], problem = bound_value(by_name[name], value)
            if problem is not None:
                problems.append(where.config(problem.config or None, problem.message, problem.fix))
        sources = replace(sources, bound={**(sources.bound or {}), **given})
    definition = _definition_problems(flow_cls, configs, where)
    problems += [p for _attr, p in definition]
    skip = {attr for attr, _p in definition}
    read, read_problems = read_values(configs, sources, skip=skip)
    if lenient:
        problems = [p for _attr, p in definition]
        read_problems = []
        read = {attr: read.get(attr) for attr in configs}
    problems += [where.config(p.config or None, p.message, p.fix) for p in read_problems]
    if problems:
        raise LintError(problems)
    type.__setattr__(flow_cls, BOUND, {attr: (read[attr], configs[attr].plain) for attr in configs})
    # What self.<config> gives in a step: built once per binding (Config.__get__), apart
    # from the scope below so that nothing a step does reaches a decorator's arguments.
    type.__setattr__(
        flow_cls, WRAPPED, {attr: wrapped(read[attr], configs[attr].plain) for attr in configs}
    )
    scope: dict[str, Any] = {}
    for attr, config in configs.items():
        scope[config.ident] = wrapped(read[attr], config.plain)
    for attr, config in configs.items():
        scope.setdefault(attr, wrapped(read[attr], config.plain))
    type.__setattr__(flow_cls, NAMESPACE, types.SimpleNamespace(**scope))
    problems += _bind_step_decorators(flow_cls, scope, where)
    problems += _bind_flow_decorators(flow_cls, scope, where)
    problems += _bind_parameters(flow_cls, scope, where)
    for cache in _CACHES:
        if cache in flow_cls.__dict__:
            type.__delattr__(flow_cls, cache)
    if problems:
        raise LintError(problems)
    return bound_values(flow_cls) or {}


def _definition_problems(
    flow_cls: type, configs: Mapping[str, Config], where: _Where
) -> list[tuple[str, LintProblem]]:
    """``(attribute, problem)`` for each config whose definition is wrong."""
    out = []
    params = {normalized_name(p.name): p for p in flow_parameters(flow_cls)}
    seen: dict[str, str] = {}
    for attr, config in configs.items():
        for message, fix in config.definition_problems():
            out.append((attr, where.config(attr, message, fix)))
        if not isinstance(config.name, str):
            continue
        key = normalized_name(config.name)
        if key in seen:
            out.append(
                _at(
                    attr,
                    where,
                    f"configs '{seen[key]}' and '{config.name}' have the same name",
                    "give each Config(...) its own name",
                )
            )
        seen[key] = config.name
        if key in params:
            out.append(
                _at(
                    attr,
                    where,
                    f"config '{config.name}' has the name of parameter '{params[key].name}' "
                    "(names ignore case, and '-' and '_' count as the same)",
                    "rename the config or the parameter",
                )
            )
        elif key in RESERVED_PARAMETER_NAMES:
            out.append(
                _at(
                    attr,
                    where,
                    f"config '{config.name}' has a reserved name: grange uses it for its own "
                    "command-line options",
                    f"choose another name, e.g. Config('{config.name}_config', ...)",
                )
            )
        if attr in FLOW_ATTRIBUTES:
            out.append(
                _at(
                    attr,
                    where,
                    f"config attribute '{attr}' is reserved: every flow already has "
                    f"self.{attr}, and the config would hide it",
                    f"rename the attribute, e.g. {attr}_config = Config(...)",
                )
            )
    return out


def _at(attr: str, where: _Where, message: str, fix: str) -> tuple[str, LintProblem]:
    return attr, where.config(attr, message, fix)


def _bind_step_decorators(
    flow_cls: type, scope: Mapping[str, Any], where: _Where
) -> list[LintProblem]:
    """Rebuild the config-reading decorators of the steps ``flow_cls`` has (resolved by
    its MRO). A step it inherits is copied onto ``flow_cls`` with the rebuilt decorators:
    the base class's function, shared with the base and its other subclasses, is never
    changed."""
    problems = []
    names = dict.fromkeys(a for klass in reversed(flow_cls.__mro__) for a in vars(klass))
    for attr in names:
        func = inspect.getattr_static(flow_cls, attr, None)
        if not inspect.isfunction(func) or not is_step(func):
            continue
        decos = decorators_of(func)
        if all(getattr(d, "config_source", None) is None for d in decos):
            continue
        owner = next(k for k in flow_cls.__mro__ if attr in vars(k))
        written = getattr(func, _COPY_OF, owner)  # the class whose source has the step
        for i, deco in enumerate(decos):
            source = getattr(deco, "config_source", None)
            if source is None:
                continue
            what = f"@{deco.name} on step '{attr}'"
            bound, problem = _rebuilt(type(deco), deco, source, scope, what)
            if bound is None:
                line = where.step_decorator(written, attr, deco.name)
                problems.append(
                    LintProblem(RULE, problem[0], where.file_of(written), line, attr, problem[1])
                )
                continue
            decos[i] = bound
        if owner is flow_cls:
            setattr(func, DECORATORS, decos)
        else:
            type.__setattr__(flow_cls, attr, _step_copy(func, decos, owner))
    return problems


_COPY_OF = "_grange_config_copy_of"  # on a step copied by binding: the class it came from


def _step_copy(func: types.FunctionType, decos: list[Any], owner: type) -> types.FunctionType:
    """``func`` as a new function object (same code, globals and closure) with its own
    attributes and the decorators ``decos``."""
    new = types.FunctionType(
        func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__
    )
    new.__dict__.update(func.__dict__)
    new.__kwdefaults__ = func.__kwdefaults__
    new.__qualname__ = func.__qualname__
    new.__module__ = func.__module__
    new.__doc__ = func.__doc__
    new.__annotations__ = dict(func.__annotations__)
    setattr(new, DECORATORS, decos)
    setattr(new, _COPY_OF, owner)
    return new


def _bind_flow_decorators(
    flow_cls: type, scope: Mapping[str, Any], where: _Where
) -> list[LintProblem]:
    """Rebuild the config-reading flow decorators of ``flow_cls`` and its bases. A base's
    rebuilt list goes to ``flow_cls`` (:data:`BOUND_FLOW_DECORATORS`, by class): the
    base's own list is never changed."""
    problems = []
    for_bases: dict[type, list[Any]] = {}
    for klass in reversed(flow_cls.__mro__):
        own = list(klass.__dict__.get(FLOW_DECORATORS, ()))
        changed = False
        for i, deco in enumerate(own):
            source = getattr(deco, "config_source", None)
            if source is None:
                continue
            what = f"@{deco.name} on flow {klass.__name__}"
            bound, problem = _rebuilt(type(deco), deco, source, scope, what)
            if bound is None:
                line = where.flow_decorator(klass, deco.name)
                problems.append(
                    LintProblem(RULE, problem[0], where.file_of(klass), line, None, problem[1])
                )
                continue
            own[i] = bound
            changed = True
        if changed and klass is flow_cls:
            type.__setattr__(klass, FLOW_DECORATORS, own)
        elif changed:
            for_bases[klass] = own
    type.__setattr__(flow_cls, BOUND_FLOW_DECORATORS, for_bases)
    return problems


def _rebuilt(
    cls: type, old: Any, source: dict[str, Any], scope: Mapping[str, Any], what: str
) -> tuple[Any, tuple[str, str]]:
    """A decorator like ``old`` built from ``source`` with config values resolved, or
    ``(None, (message, fix))``."""
    try:
        given = resolve(source, scope)
    except ConfigExprError as err:
        return None, _expr_problem(err, what, scope)
    try:
        new = cls(given, statically_defined=old.statically_defined)
    except DecoratorError as err:
        return None, (
            f"{what}, with its config values read: {err.message}",
            (err.fix + "; " if err.fix else "") + "correct the config's value",
        )
    new.config_source = source
    return new, ("", "")


def _expr_problem(err: ConfigExprError, what: str, scope: Mapping[str, Any]) -> tuple[str, str]:
    root = err.expr.lstrip("*").split(".", 1)[0].split("[", 1)[0].split("(", 1)[0]
    names = ", ".join(sorted(k for k in scope)) or "none"
    if root in scope and scope[root] is None:
        return (
            f"{what} reads {err.expr}, but config '{root}' has no value (none given, and no "
            "default)",
            f"give it: --config {root} FILE or --config-value {root} JSON, or a default",
        )
    cause = err.cause
    if isinstance(cause, NameError):
        return (
            f"{what} reads {err.expr}: {cause}",
            f"the flow's configs are: {names}",
        )
    return (
        f"{what} reads {err.expr}: {cause}",
        "add the key to the config, or correct the expression",
    )


def _bind_parameters(flow_cls: type, scope: Mapping[str, Any], where: _Where) -> list[LintProblem]:
    """Resolve the config-reading defaults of the parameters ``flow_cls`` has. A
    parameter it inherits is copied onto ``flow_cls`` first (marked
    ``_grange_config_copy``: it keeps its place and its line): the base's is not changed."""
    problems = []
    for param in flow_parameters(flow_cls):
        source = param.__dict__.get("config_default")
        if source is None:
            if not getattr(type(param.default), "_grange_delayed", False):
                continue
            source = param.default
        attr = param.attribute or param.name
        if flow_cls.__dict__.get(attr) is not param:
            param = copy.copy(param)
            param.__dict__["_grange_config_copy"] = True
            type.__setattr__(flow_cls, attr, param)
        param.__dict__["config_default"] = source
        try:
            param.default = resolve(source, scope)
        except ConfigExprError as err:
            message, fix = _expr_problem(err, f"the default of parameter '{param.name}'", scope)
            file, line = where.parameter(attr)
            problems.append(LintProblem(RULE, message, file, line, None, fix))
            continue
        if not param.type_given:
            param.type = param._resolve_type(None, param.default)
    return problems


class _Where:
    """Files and lines of a flow's configs, decorators and parameters (read on demand)."""

    def __init__(self, flow_cls: type) -> None:
        self.flow_cls = flow_cls
        try:  # cheap (the module's __file__): the source is parsed only to report a problem
            self.flow_dir: str | None = os.path.dirname(os.path.abspath(inspect.getfile(flow_cls)))
        except (TypeError, OSError):
            self.flow_dir = None

    @functools.cached_property
    def _location(self) -> tuple[str, int]:
        return _class_location(self.flow_cls)

    @property
    def line(self) -> int:
        return self._location[1]

    def file_of(self, klass: type) -> str | None:
        file = _class_location(klass)[0]
        return None if file == "<unknown>" else file

    def _cdef(self, klass: type) -> ast.ClassDef | None:
        file, line = _class_location(klass)
        return _find_class(file, klass.__name__, line)

    def _assigned(self, attr: str) -> tuple[str | None, int | None]:
        for klass in self.flow_cls.__mro__:
            if attr not in vars(klass):
                continue
            cdef = self._cdef(klass)
            for stmt in cdef.body if cdef else ():
                targets = stmt.targets if isinstance(stmt, ast.Assign) else []
                if any(isinstance(t, ast.Name) and t.id == attr for t in targets):
                    return self.file_of(klass), stmt.lineno
            return self.file_of(klass), _class_location(klass)[1] or None
        return self.file_of(self.flow_cls), self.line or None

    def config(self, attr: str | None, message: str, fix: str) -> LintProblem:
        file, line = self._assigned(attr) if attr else (self.file_of(self.flow_cls), None)
        return LintProblem(RULE, message, file, line, None, fix)

    def parameter(self, attr: str) -> tuple[str | None, int | None]:
        return self._assigned(attr)

    def step_decorator(self, klass: type, step: str, name: str) -> int | None:
        cdef = self._cdef(klass)
        for stmt in cdef.body if cdef else ():
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == step:
                for d in stmt.decorator_list:
                    if _decorator_name(d) == name:
                        return d.lineno
                return stmt.lineno
        return None

    def flow_decorator(self, klass: type, name: str) -> int | None:
        cdef = self._cdef(klass)
        for d in cdef.decorator_list if cdef else ():
            if _decorator_name(d) == name:
                return d.lineno
        return cdef.lineno if cdef else None
