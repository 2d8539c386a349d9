"""grange: ML workflows as Python classes, run fast locally, deployed to Argo unchanged.

The public API is what this module exports; everything else is internal.
"""

from grange._version import __version__
from grange.current import current
from grange.decorators import step
from grange.exceptions import GrangeError
from grange.flowspec import FlowSpec
from grange.parameters import IncludeFile, JSONType, Parameter

__all__ = [
    "FlowSpec",
    "GrangeError",
    "IncludeFile",
    "JSONType",
    "Parameter",
    "__version__",
    "current",
    "step",
]
