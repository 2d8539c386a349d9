"""Rules about names that become storage paths: the flow's and its steps'.

A flow's name and each step's name become folder names in the datastore
(``<flow>/<run>/<step>/<task>/<attempt>/record.json``, on disk or as object
keys), and file systems refuse a folder name over 255 bytes. grange allows
at most :data:`MAX_NAME_BYTES` (128) bytes for either, which leaves room to
spare and is more than any readable name needs.
"""

from __future__ import annotations

from collections.abc import Iterator

from grange.exceptions import LintProblem
from grange.graph.model import FlowGraph

MAX_NAME_BYTES = 128


def too_long(name: str) -> bool:
    """Whether ``name`` is over :data:`MAX_NAME_BYTES` bytes in UTF-8."""
    return len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES


def shown(name: str) -> str:
    """``name`` quoted, cut in the middle when long: ``'ssss...ssss' (300 characters)``."""
    if len(name) <= 40:
        return f"'{name}'"
    return f"'{name[:16]}...{name[-8:]}' ({len(name)} characters)"


def length_rule(what: str) -> str:
    """The sentence that explains the limit, for the messages of both rules."""
    unit = "characters" if what == "step" else "bytes in UTF-8 (128 ASCII characters)"
    return (
        f"{what} names have at most {MAX_NAME_BYTES} {unit}, because each becomes "
        "a folder name in the datastore"
    )


def flow_name(graph: FlowGraph) -> Iterator[LintProblem]:
    """(flow-name) The flow's class name fits in a datastore folder name."""
    if too_long(graph.name):
        yield LintProblem(
            "flow-name",
            f"flow {shown(graph.name)} has a name too long to store: " + length_rule("flow"),
            graph.file,
            graph.line or None,
            None,
            f"give the flow class a shorter name (at most {MAX_NAME_BYTES} characters), "
            "here and where the file calls it",
        )
