"""Flow parameters as workflow arguments: JSON-encoded values, types in an annotation.

Each ``Parameter`` becomes a ``spec.arguments.parameters`` entry whose value is
the JSON encoding of its default (``0.5`` -> ``"0.5"``, ``"a"`` -> ``"\\"a\\""``,
``None`` -> ``"null"``, a JSONType default -> its JSON text); a required
parameter without a default has no value, so Argo refuses a submission that
does not give one. A callable default is evaluated when the flow is compiled,
as Metaflow's deploy-time parameters are. Only the start step reads them (its
``--argo-parameter NAME=<json>`` options); later steps read the run's
``_parameters`` task like any other artifact.

An ``IncludeFile``'s value is a small JSON reference to the file's bytes in
the datastore (stored at deploy or trigger time), never the content itself.

Values are budgeted: each one ends up in the start pod's argv (and in its
``ARGO_TEMPLATE`` environment variable), where Linux caps one string at 128 KiB.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hera.workflows import models as m

from grange.exceptions import CompileError, ParameterError
from grange.graph.model import FlowGraph, ParameterInfo
from grange.parameters import configs_context

# One value at most 32 KiB and all of them at most 64 KiB: the start pod's
# resolved template (ARGO_TEMPLATE, one environment string) stays under Linux's
# 128 KiB per-string limit with room for the rest of the template.
MAX_VALUE_BYTES = 32 * 1024
MAX_TOTAL_BYTES = 64 * 1024


def encode(value: Any) -> str:
    """A parameter value as Argo carries it: JSON text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def default_values(
    flow_cls: type,
    graph: FlowGraph,
    included: Mapping[str, Any] | None = None,
    given: Mapping[str, Any] | None = None,
) -> dict[str, str | None]:
    """Each parameter's JSON-encoded default (None: required, no default): the value
    in ``given`` (by name, converted: ``create --NAME VALUE``), else its own.

    An ``IncludeFile``'s default is the reference ``included[name]`` to its file,
    stored in the datastore when the flow is deployed
    (:func:`grange.datastore.included.store`)."""
    values: dict[str, str | None] = {}
    for info in graph.parameters:
        if info.is_file:
            values[info.name] = _included(info, (included or {}).get(info.name))
            continue
        param = getattr(flow_cls, info.attribute, None)
        try:
            if given is not None and info.name in given:
                default = given[info.name]
            else:
                default = (
                    param.default_value(graph.name, configs_context(flow_cls))
                    if param is not None
                    else info.default
                )
        except ParameterError as err:
            err.file, err.line = err.file or info.file, err.line or info.line
            raise
        if default is None and info.required:
            values[info.name] = None
            continue
        text = encode(default)
        _check_size(info, text)
        values[info.name] = text
    total = sum(len(v.encode()) for v in values.values() if v)
    if total > MAX_TOTAL_BYTES:
        raise CompileError(
            f"the parameters' defaults add up to {total} bytes of JSON, more than the "
            f"{MAX_TOTAL_BYTES} that an Argo start pod can carry",
            file=graph.file,
            line=graph.line,
            fix="store large values in the datastore or S3 and pass their location instead",
        )
    return values


def _included(info: ParameterInfo, ref: Any) -> str | None:
    if ref is not None:
        return encode(ref)
    if info.default is None:  # no file: required at trigger time, or None
        return None if info.required else encode(None)
    raise CompileError(
        f"parameter '{info.name}' is an IncludeFile whose file is not stored in the "
        "datastore: a pod cannot read it from this machine",
        file=info.file,
        line=info.line,
        parameter=info.name,
        fix="deploy with `python flow.py argo-workflows create`, which stores the file",
    )


def _check_size(info: ParameterInfo, text: str) -> None:
    size = len(text.encode("utf-8"))
    if size > MAX_VALUE_BYTES:
        raise CompileError(
            f"the default of parameter '{info.name}' is {size} bytes of JSON, more than the "
            f"{MAX_VALUE_BYTES} an Argo workflow parameter may carry",
            file=info.file,
            line=info.line,
            parameter=info.name,
            fix="store large values in the datastore or S3 and pass their location instead",
        )


def arguments(values: dict[str, str | None]) -> m.Arguments | None:
    """``spec.arguments``: one parameter per flow parameter, by name."""
    if not values:
        return None
    return m.Arguments(
        parameters=[
            m.Parameter(name=name, value=value) if value is not None else m.Parameter(name=name)
            for name, value in values.items()
        ]
    )


def annotation(graph: FlowGraph) -> str:
    """``grange.dev/parameters``: each parameter's name, type and whether it is required,
    for ``trigger`` (and a reader of the template) to type values as the flow does."""
    return json.dumps(
        [{"name": p.name, "type": p.type, "required": p.required} for p in graph.parameters],
        separators=(",", ":"),
    )


def start_args(graph: FlowGraph) -> list[str]:
    """The start step's ``--argo-parameter NAME={{workflow.parameters.NAME}}`` options."""
    args: list[str] = []
    for info in graph.parameters:
        args += ["--argo-parameter", f"{info.name}={{{{workflow.parameters.{info.name}}}}}"]
    return args
