"""Helpers to test flows: run a whole flow in an isolated store, or one step alone.

``run_flow`` and ``run_step`` are the public API (see docs/testing.md);
:mod:`grange.testing.plugin` is the pytest plugin (fixtures ``grange_store``
and ``grange_run``) that pytest loads through grange's ``pytest11`` entry
point. The plugin imports this package in every pytest session where grange is
installed, so the helpers themselves are imported on first use only.
"""

from __future__ import annotations

import importlib
import typing

from grange.exceptions import FlowFailed, HarnessError, StepFailed

if typing.TYPE_CHECKING:
    from grange.testing.flow import run_flow
    from grange.testing.result import StepResult
    from grange.testing.step import run_step

__all__ = ["FlowFailed", "HarnessError", "StepFailed", "StepResult", "run_flow", "run_step"]

_LAZY = {
    "run_flow": "grange.testing.flow",
    "run_step": "grange.testing.step",
    "StepResult": "grange.testing.result",
}


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'grange.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
