"""Reading configs' values: files, JSON given on the command line, defaults, parsers.

:func:`read_values` returns every config's value and the problems found (all
of them, so that one command shows every bad config at once); the graph layer
(:mod:`grange.graph.configs`) turns problems into lint errors at the line of
each ``Config(...)``.

Where values come from (:class:`ConfigSources`), first found:

1. ``bound``: final values a task receives from the run that started it
   (``GRANGE_FLOW_CONFIG_BOUND``, JSON ``{"flow": name, "configs": {name: value}}``,
   ignored by another flow): nothing is re-read
   or re-parsed, so a pod needs no ``config.json``;
2. ``files`` (``--config NAME PATH``, ``GRANGE_FLOW_CONFIG='{"name": "path"}'``) and
   ``texts`` (``--config-value NAME JSON``, ``GRANGE_FLOW_CONFIG_VALUE``), parsed
   by the config's parser (JSON without one);
3. the config's ``default`` file, then its ``default_value``.
"""

from __future__ import annotations

import importlib
import json
import os
import types
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from grange.user_configs.config import Config
from grange.user_configs.value import plain_copy

FILES_ENV = "GRANGE_FLOW_CONFIG"
TEXTS_ENV = "GRANGE_FLOW_CONFIG_VALUE"
BOUND_ENV = "GRANGE_FLOW_CONFIG_BOUND"


@dataclass(frozen=True)
class ConfigProblem:
    """Why a config has no usable value: ``config`` is its attribute."""

    config: str
    message: str
    fix: str


@dataclass
class ConfigSources:
    """What was given for a flow's configs, by config name."""

    files: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    bound: dict[str, Any] | None = None
    flow_dir: str | None = None  # a relative default file is also looked for here
    flow_name: str = ""

    @property
    def given(self) -> bool:
        return bool(self.files or self.texts)


def sources_from_env(
    environ: Mapping[str, str], *, flow_dir: str | None = None, flow_name: str = ""
) -> tuple[ConfigSources, list[str]]:
    """The sources the environment gives, and the errors in its variables."""
    errors: list[str] = []
    sources = ConfigSources(flow_dir=flow_dir, flow_name=flow_name)
    bound = environ.get(BOUND_ENV)
    if bound:
        try:
            if bound.startswith("@"):
                with open(bound[1:], encoding="utf-8") as fh:
                    bound = fh.read()
            given = json.loads(bound)
            if not isinstance(given, dict) or not isinstance(given.get("configs"), dict):
                raise ValueError('not a JSON object {"flow": ..., "configs": {...}}')
            # Set by a run for its own tasks: another flow started from one of them
            # (a step running a flow) reads its own configs.
            if given.get("flow") in (None, flow_name) or not flow_name:
                sources.bound = given["configs"]
        except (OSError, ValueError, RecursionError) as exc:
            errors.append(f"{BOUND_ENV} cannot be read: {exc}")
    for var, target in ((FILES_ENV, sources.files), (TEXTS_ENV, sources.texts)):
        text = environ.get(var)
        if not text:
            continue
        try:
            given = json.loads(text)
            if not isinstance(given, dict):
                raise ValueError("not a JSON object")
        except (ValueError, RecursionError) as exc:
            errors.append(
                f'{var} must be a JSON object {{"config name": ...}}: {exc} (it is {text[:80]!r})'
            )
            continue
        for name, value in given.items():
            target[str(name)] = value if isinstance(value, str) else json.dumps(value)
    return sources, errors


def read_values(
    configs: Mapping[str, Config], sources: ConfigSources, *, skip: Collection[str] = ()
) -> tuple[dict[str, Any], list[ConfigProblem]]:
    """``{attribute: value}`` for ``configs`` (by attribute), and the problems found;
    the configs in ``skip`` (by attribute: their definitions are wrong) are not read."""
    values: dict[str, Any] = {}
    problems: list[ConfigProblem] = []
    names = {c.name for c in configs.values()}
    for given in (sources.files, sources.texts):
        for name in given:
            if name not in names:
                problems.append(unknown_config(name, names))
    for attr, config in configs.items():
        if attr in skip:
            values[attr] = None
            continue
        try:
            values[attr] = _value(config, sources)
        except _Problem as p:
            problems.append(ConfigProblem(attr, p.message, p.fix))
    return values, problems


def bound_value(config: Config, value: Any) -> tuple[Any, ConfigProblem | None]:
    """``value`` given to bind ``config`` (``bind_configs(values=...)``) as a run would
    bind it (checked as a parsed value, its JSON round trip), or the problem."""
    if value is None:
        return None, None
    try:
        return _checked(config, value, "the value given to bind"), None
    except _Problem as p:
        return None, ConfigProblem(config.attribute or "", p.message, p.fix)


class _Problem(Exception):
    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


def unknown_config(name: str, names: set[str]) -> ConfigProblem:
    """The problem of a value given for ``name``, which is none of the flow's ``names``."""
    import difflib

    close = difflib.get_close_matches(name, sorted(names), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return ConfigProblem(
        "",
        f"the flow has no config '{name}'",
        hint + "the flow's configs are: " + (", ".join(sorted(names)) or "none"),
    )


def _value(config: Config, sources: ConfigSources) -> Any:
    name = config.name
    if sources.bound is not None and name in sources.bound:
        return sources.bound[name]  # JSON already (a run's), or checked by bound_value
    if name in sources.files and name in sources.texts:
        raise _Problem(
            f"config '{name}' is given both as a file and as a value",
            f"give one: --config {name} FILE or --config-value {name} JSON",
        )
    if name in sources.files:
        path = sources.files[name]
        return _parse(config, _read(path, f"configuration file '{path}'", name), f"file '{path}'")
    if name in sources.texts:
        return _parse(config, sources.texts[name], "the value given")
    value = _from_default(config, sources)
    if value is None and config.required:
        raise _Problem(
            f"missing configuration for '{name}': it is required and has no value",
            f"give it: --config {name} FILE or --config-value {name} JSON",
        )
    return value


def _from_default(config: Config, sources: ConfigSources) -> Any:
    name = config.name
    if config.default is not None:
        path = (
            _call(config, config.default, sources) if callable(config.default) else config.default
        )
        if path is None:
            return None
        if not isinstance(path, (str, os.PathLike)):
            raise _Problem(
                f"the default of config '{name}' gives {type(path).__name__} {path!r}, not a "
                "file path",
                "default= names a file (a path, or a function returning one); give the "
                "value itself with default_value=",
            )
        path = os.fspath(path)
        found = path
        if not os.path.isabs(path) and not os.path.exists(path) and sources.flow_dir:
            beside = os.path.join(sources.flow_dir, path)
            found = beside if os.path.exists(beside) else path
        text = _read(found, f"default configuration file '{path}'", name)
        return _parse(config, text, f"file '{path}'")
    default = config.default_value
    if callable(default):
        default = _call(config, default, sources)
    if default is None:
        return None
    if config.plain and not isinstance(default, str):
        # A plain config's value is text, as --config-value gives it (Metaflow's rule):
        # a default that is not a string is given as its JSON text.
        default = json.dumps(_checked(config, default, "default_value"))
    if isinstance(default, str) and (config.parser is not None or not config.plain):
        return _parse(config, default, "default_value")
    return _checked(config, default, "default_value")


def _call(config: Config, func: Callable[[Any], Any], sources: ConfigSources) -> Any:
    ctx = types.SimpleNamespace(
        flow_name=sources.flow_name,
        user_name=_user(),
        parameter_name=config.name,
        logger=print,
        ds_type="local",
        configs=None,  # a config's default cannot read configs (Metaflow's rule)
    )
    try:
        return func(ctx)
    except Exception as exc:
        raise _Problem(
            f"the default of config '{config.name}' raised {type(exc).__name__}: {exc}",
            f"fix the default function, or give a value: --config-value {config.name} JSON",
        ) from exc


def _user() -> str:
    for var in ("GRANGE_USER", "USER", "USERNAME"):
        if os.environ.get(var):
            return os.environ[var]
    return "unknown"


def _read(path: str, what: str, name: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise _Problem(
            f"{what} could not be read for '{name}': {reason}",
            f"check the path (relative paths are read from {os.getcwd()}), or give "
            f"another: --config {name} FILE",
        ) from None


def _parse(config: Config, text: str, where: str) -> Any:
    name = config.name
    if config.parser is not None:
        parser = _parser(config)
        try:
            value = parser(text)
        except Exception as exc:
            raise _Problem(
                f"parser {_parser_name(config.parser)} of config '{name}' failed on {where}: "
                f"{type(exc).__name__}: {exc}",
                "fix the text, or the parser",
            ) from None
        return _checked(config, value, where)
    if config.plain:
        return text
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _Problem(
            f"configuration value for '{name}' is not valid JSON ({where}): {exc}",
            "give a JSON object, e.g. '{\"cpu\": 2}', or a parser= for another format",
        ) from None
    return _checked(config, value, where)


def _checked(config: Config, value: Any, where: str) -> Any:
    """``value`` as every task of the run sees it: its JSON round trip (keys strings,
    tuples lists), so that a forked task and a pod never see two values."""
    if not config.plain and not isinstance(value, Mapping):
        raise _Problem(
            f"config '{config.name}' must be a mapping (a JSON object), but {where} gives "
            f"{type(value).__name__}",
            'give a JSON object such as {"key": 1}, or declare the config plain=True',
        )
    try:
        return json.loads(json.dumps(plain_copy(value)), object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise _Problem(
            f"config '{config.name}' ({where}) has two keys that are both {exc.key!r} in JSON "
            "(e.g. 1 and '1'): a config travels as JSON, whose keys are strings, so one "
            "would be lost",
            "give each key once; keys are read as strings (1 and '1' are the same key)",
        ) from None
    except (TypeError, ValueError, RecursionError) as exc:
        raise _Problem(
            f"config '{config.name}' ({where}) holds a value that cannot be stored as JSON: {exc}",
            "keep a config to JSON types (dicts, lists, strings, numbers, booleans, null)",
        ) from None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def _parser(config: Config) -> Callable[[str], Any]:
    parser = config.parser
    if callable(parser):
        return parser
    if not isinstance(parser, str):
        raise _Problem(
            f"parser= of config '{config.name}' is {parser!r}, not a function",
            "pass a function taking the text, or its dotted import name",
        )
    dotted = "grange" + parser if parser.startswith(".") else parser
    module_name, _, attr = dotted.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name or "grange"), attr, None)
    except ImportError as exc:
        raise _Problem(
            f"parser '{parser}' of config '{config.name}' cannot be imported: {exc}",
            "give a function, or its dotted import name (e.g. 'grange.yaml_parser')",
        ) from None
    if not callable(found):
        raise _Problem(
            f"parser '{parser}' of config '{config.name}' is not a function",
            "give a function, or its dotted import name (e.g. 'grange.yaml_parser')",
        )
    return found


def _parser_name(parser: Any) -> str:
    return parser if isinstance(parser, str) else getattr(parser, "__name__", repr(parser))
