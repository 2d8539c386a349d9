"""``IncludeFile`` parameters of a deployment: their files stored in the datastore.

A pod cannot read a file on the deploying machine, so ``argo-workflows create``
stores each ``IncludeFile``'s default file, and ``trigger`` the file given for
one, in the datastore (:mod:`grange.datastore.included`). The workflow argument
is then a small JSON reference to it, which the start step reads back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from grange.datastore.backend import BlobStore
from grange.datastore.included import read_path, store
from grange.exceptions import ParameterError
from grange.parameters import (
    ParameterContext,
    configs_context,
    current_username,
    flow_parameters,
)


def store_include_files(
    flow_cls: type,
    blobs: BlobStore,
    given: Mapping[str, Any] | None = None,
    *,
    defaults: bool = True,
) -> dict[str, dict[str, Any]]:
    """References (by parameter name) to the files of the flow's ``IncludeFile``
    parameters: the path in ``given`` (by name) if there, else (with ``defaults``)
    the parameter's default; each stored once in ``blobs``."""
    refs: dict[str, dict[str, Any]] = {}
    for param in flow_parameters(flow_cls):
        if not param.is_file:
            continue
        path = (given or {}).get(param.name)
        if path is None and defaults:
            path = _default_path(flow_cls, param)
        if path is None:
            continue
        try:
            data, name = read_path(path)
        except OSError as exc:
            raise ParameterError(
                f"cannot read file {os.fspath(path)!r} for IncludeFile parameter "
                f"'{param.name}': {exc.strerror}",
                parameter=param.name,
                fix=f"give the path of a readable file (--{param.name} PATH), relative to "
                "where you run the command",
            ) from exc
        refs[param.name] = store(blobs, flow_cls.__name__, data, name)
    return refs


def _default_path(flow_cls: type, param: Any) -> Any:
    default = param.default
    if callable(default):  # a deploy-time default, evaluated now as Metaflow does
        ctx = ParameterContext(
            flow_name=flow_cls.__name__,
            user_name=current_username(),
            parameter_name=param.name,
            configs=configs_context(flow_cls),
        )
        default = default(ctx)
    return default
