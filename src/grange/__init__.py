"""grange: ML workflows as Python classes, run fast locally, deployed to Argo unchanged.

The public API is what this module exports; everything else is internal.
The client API (``Flow``, ``Run``, ``namespace``, ...) is imported on first
use, so ``import grange`` stays fast and loads no database driver.
"""

from __future__ import annotations

import sys
import typing

from grange._lazy import GrangeModule as _GrangeModule
from grange._version import __version__
from grange.current import current
from grange.decorators import step
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
    "current",
    "default_metadata",
    "default_namespace",
    "get_metadata",
    "get_namespace",
    "metadata",
    "namespace",
    "step",
]

sys.modules[__name__].__class__ = _GrangeModule
