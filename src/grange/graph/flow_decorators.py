"""The flow decorators of a flow class (``@project``, ...), located in its source.

Each decorator recorded on the class or a base class becomes a
:class:`DecoratorInfo` with its arguments and the file and line where it is
written; each misuse recorded while decorating becomes a definition problem
(rule ``flow-decorator``) at that line, for lint to report.
"""

from __future__ import annotations

from typing import Any

from grange.decorators.flow import FLOW_PROBLEMS, own_flow_decorators
from grange.graph.model import DecoratorInfo

RULE = "flow-decorator"


def read_flow_decorators(flow_cls: type, problems: list[Any]) -> tuple[DecoratorInfo, ...]:
    """The flow decorators of ``flow_cls`` and its bases (bases first); misuses go to
    ``problems`` as ``(rule, message, file, line, step, fix)``."""
    from grange.graph.parse import _class_location, _decorator_name, _find_class

    infos: list[DecoratorInfo] = []
    for klass in reversed(flow_cls.__mro__):
        own = own_flow_decorators(flow_cls, klass)
        misuses = klass.__dict__.get(FLOW_PROBLEMS, ())
        if not own and not misuses:
            continue
        file, line = _class_location(klass)
        cdef = _find_class(file, klass.__name__, line)
        written = [(_decorator_name(d), d.lineno) for d in cdef.decorator_list] if cdef else []
        infos.extend(_located(own, written, file, line))
        for problem in misuses:
            lines = [n_line for n, n_line in written if n == problem.decorator]
            k = getattr(problem, "occurrence", None) or 0
            at = lines[k] if k < len(lines) else (lines[0] if lines else line)
            problems.append((RULE, problem.message, file, at or None, None, problem.fix))
    return tuple(infos)


def _located(
    decorators: Any, written: list[tuple[str, int]], file: str, class_line: int
) -> list[DecoratorInfo]:
    """Match each decorator to its line: the k-th of a name from the bottom (they apply
    bottom-up, and a refused duplicate is the upper one) to the k-th written so."""
    seen: dict[str, int] = {}
    located = []
    for deco in reversed(list(decorators)):
        lines = [n_line for n, n_line in reversed(written) if n == deco.name]
        k = seen.get(deco.name, 0)
        seen[deco.name] = k + 1
        located.append(
            DecoratorInfo(
                name=deco.name,
                attributes=dict(deco.attributes),
                line=lines[k] if k < len(lines) else (class_line or None),
                file=file,
            )
        )
    return list(reversed(located))
