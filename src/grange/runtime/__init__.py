"""The local runtime: scheduling, worker processes, run and resume.

``RunRequest`` and ``execute`` are imported on first use (PEP 562), so that a
command using one module of the runtime (``spin``) does not load the scheduler.
"""

from __future__ import annotations

import importlib
import typing

if typing.TYPE_CHECKING:
    from grange.runtime.run import RunRequest, execute

__all__ = ["RunRequest", "execute"]


def __getattr__(name: str) -> typing.Any:
    if name in __all__:
        value = getattr(importlib.import_module("grange.runtime.run"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'grange.runtime' has no attribute {name!r}")
