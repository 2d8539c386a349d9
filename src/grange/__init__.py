"""grange: ML workflows as Python classes, run fast locally, deployed to Argo unchanged.

The public API is what this module exports; everything else is internal.
The client API (``Flow``, ``Run``, ``namespace``, ...) is imported on first
use, so ``import grange`` stays fast and loads no database driver.
"""

from __future__ import annotations

import typing

from grange._version import __version__
from grange.current import current
from grange.decorators import (
    catch,
    environment,
    parallel,
    resources,
    retry,
    secrets,
    step,
    timeout,
)
from grange.exceptions import GrangeError
from grange.flowspec import FlowSpec
from grange.parameters import IncludeFile, JSONType, Parameter

if typing.TYPE_CHECKING:
    from grange.client import (
        DataArtifact,
        Flow,
        Metaflow,
        Run,
        Step,
        Task,
        default_metadata,
        default_namespace,
        get_metadata,
        get_namespace,
        metadata,
        namespace,
    )

__all__ = [
    "DataArtifact",
    "Flow",
    "FlowSpec",
    "GrangeError",
    "IncludeFile",
    "JSONType",
    "Metaflow",
    "Parameter",
    "Run",
    "Step",
    "Task",
    "__version__",
    "catch",
    "current",
    "default_metadata",
    "default_namespace",
    "environment",
    "get_metadata",
    "get_namespace",
    "metadata",
    "namespace",
    "parallel",
    "resources",
    "retry",
    "secrets",
    "step",
    "timeout",
]

_CLIENT_NAMES = frozenset(
    {
        "DataArtifact", "Flow", "Metaflow", "Run", "Step", "Task", "default_metadata",
        "default_namespace", "get_metadata", "get_namespace", "metadata", "namespace",
    }
)  # fmt: skip


def __getattr__(name: str) -> typing.Any:
    """Import the client API on first use (PEP 562)."""
    if name not in _CLIENT_NAMES:
        raise AttributeError(f"module 'grange' has no attribute {name!r}")
    import grange.client as client

    for exported in _CLIENT_NAMES:
        globals()[exported] = getattr(client, exported)
    return globals()[name]


def __dir__() -> list[str]:
    return sorted(set(globals()) | _CLIENT_NAMES)
