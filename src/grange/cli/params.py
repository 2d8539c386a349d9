"""Flow parameters as command-line options: ``--<name> VALUE``.

:func:`parameter_options` turns each :class:`~grange.parameters.Parameter`
of a flow into a click option for commands that start runs (``run``, and
later ``resume`` and ``argo-workflows create``). The options collect the raw
text only; :func:`parameter_values` hands it to
:func:`~grange.parameters.resolve_values`, so every conversion, default and
"required" rule lives in one place and a bad value raises a
:class:`~grange.exceptions.ParameterError` naming the parameter and the type
it expects (the CLI prints it and exits with status 2).

As in Metaflow, a bool parameter takes a value (``--flag true``) unless it was
defined with ``is_flag=True`` (then a bare ``--flag`` sets it), and a value
may also come from the environment: ``GRANGE_RUN_<NAME>`` (the name upper-cased,
``-`` as ``_``), read when the command line is parsed. A bad value from the
environment is reported naming the variable, not the option.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from collections.abc import Mapping
from typing import Any

import click
from click.core import ParameterSource

from grange.exceptions import ParameterError
from grange.parameters import Parameter, flow_parameters, normalized_name, resolve_values

ENVVAR_PREFIX = "GRANGE_RUN_"

_METAVARS = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "bool": "BOOLEAN"}


def parameter_options(
    flow_cls: type, envvar_prefix: str | None = ENVVAR_PREFIX
) -> list[click.Option]:
    """One ``--<name>`` option per parameter of ``flow_cls``, in definition order.

    Raises :class:`ParameterError` if a parameter is defined badly. Pass
    ``envvar_prefix=None`` to read no environment variables.
    """
    check_definitions(flow_cls)
    return [_option(param, envvar_prefix) for param in flow_parameters(flow_cls)]


def parameter_values(
    flow_cls: type, options: Mapping[str, Any], envvar_prefix: str | None = ENVVAR_PREFIX
) -> dict[str, Any]:
    """The value of every parameter for a run, keyed by attribute name.

    ``options`` are a command's parsed keyword arguments; those of the
    parameter options (raw text, or ``None`` when not given) are converted,
    and missing ones take their defaults, by :func:`resolve_values`.
    """
    given = {}
    from_env = set()
    ctx = click.get_current_context(silent=True)
    for param in flow_parameters(flow_cls):
        raw = options.get(option_dest(param))
        if raw is None and param.is_flag and envvar_prefix:
            # click reads no variable for a flag (it would take any text as false): the
            # variable's text is converted like a value, and a bad one is an error.
            raw = os.environ.get(envvar_name(param, envvar_prefix))
            if raw is not None:
                from_env.add(param.name)
        elif (
            ctx is not None
            and raw is not None
            and ctx.get_parameter_source(option_dest(param)) is ParameterSource.ENVIRONMENT
        ):
            from_env.add(param.name)
        if raw is not None:
            given[param.name] = raw
    try:
        return resolve_values(flow_cls, given)
    except ParameterError as err:
        if err.parameter not in from_env:
            raise
        raise _from_environment(flow_cls, err, envvar_prefix or ENVVAR_PREFIX) from None


def _from_environment(flow_cls: type, err: ParameterError, prefix: str) -> ParameterError:
    """``err`` restated for a value that came from ``GRANGE_RUN_<NAME>``."""
    param = next(p for p in flow_parameters(flow_cls) if p.name == err.parameter)
    var = envvar_name(param, prefix)
    return ParameterError(
        f"{err.message} (the value comes from the environment variable {var})",
        parameter=param.name,
        fix=f"set {var} to a value of type {param.type_name}, or unset it "
        f"(unset {var}) and pass --{param.name}{'' if param.is_flag else ' VALUE'}",
    )


def option_dest(param: Parameter) -> str:
    """The keyword under which a command's callback receives the parameter's option."""
    return normalized_name(param.name)


def envvar_name(param: Parameter, prefix: str = ENVVAR_PREFIX) -> str:
    """``GRANGE_RUN_<NAME>``: the environment variable giving a value for ``param``."""
    return prefix + normalized_name(param.name).upper()


def check_definitions(flow_cls: type) -> None:
    """Raise :class:`ParameterError` for the first badly defined parameter.

    Bad names (invalid or reserved), a ``separator`` on a non-str parameter and
    a default that does not convert to the parameter's type are reported with
    the flow file and the line of the definition.
    """
    for param in flow_parameters(flow_cls):
        problems = param.definition_problems()
        if problems:
            file, line = _definition_site(flow_cls, param)
            raise ParameterError(
                problems[0],
                file=file,
                line=line,
                parameter=param.name,
                fix="correct the Parameter(...) definition in the flow file",
            )


def _option(param: Parameter, envvar_prefix: str | None) -> click.Option:
    envvar = envvar_name(param, envvar_prefix) if envvar_prefix else None
    if param.is_flag:
        # A bare --name gives the text "true", converted like any bool value; not given,
        # the value is None and the parameter takes its default.
        return click.Option(
            [f"--{param.name}", option_dest(param)],
            is_flag=True,
            flag_value="true",
            type=click.STRING,
            default=None,
            help=_help_text(param) + (f" [env var: {envvar}]" if envvar else ""),
        )
    return click.Option(
        [f"--{param.name}", option_dest(param)],
        type=click.STRING,
        default=None,
        metavar="PATH"
        if param.is_file
        else _METAVARS.get(param.type_name, param.type_name.upper()),
        help=_help_text(param),
        envvar=envvar,
        show_envvar=envvar is not None,
    )


def _help_text(param: Parameter) -> str:
    facts = [param.type_name]
    if param.required:
        facts.append("required")
    elif param.show_default and param.default is not None:
        facts.append(f"default: {_default_text(param.default)}")
    about = f"{param.help} " if param.help else ""
    return f"{about}[{'; '.join(facts)}]"


def _default_text(default: Any) -> str:
    if callable(default):
        name = getattr(default, "__name__", "a function")
        return f"computed when the run starts by {name}"
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, (dict, list, tuple)):
        return json.dumps(default, default=str)
    return str(default)


def _definition_site(flow_cls: type, param: Parameter) -> tuple[str | None, int | None]:
    """The file and line where ``param`` is assigned in a class body, if found."""
    owner = next(
        (k for k in flow_cls.__mro__ if any(v is param for v in vars(k).values())), flow_cls
    )
    try:
        file = inspect.getsourcefile(owner)
        lines, first = inspect.getsourcelines(owner)
    except (OSError, TypeError):
        return None, None
    pattern = re.compile(rf"^\s*{re.escape(param.attribute or '')}\s*[:=]")
    for offset, text in enumerate(lines):
        if pattern.match(text):
            return file, first + offset
    return file, first
