"""Typed model of a flow's graph: :class:`FlowGraph` of :class:`StepNode`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class NodeType(str, Enum):
    """The shape of a step, as Metaflow names it."""

    START = "start"  # the start step, going on to exactly one step
    LINEAR = "linear"  # one step in, one step out
    SPLIT_STATIC = "split-static"  # self.next(self.a, self.b, ...)
    SPLIT_FOREACH = "split-foreach"  # self.next(self.a, foreach="items")
    SPLIT_PARALLEL = "split-parallel"  # self.next(self.a, num_parallel=N): a gang of N
    SPLIT_SWITCH = "split-switch"  # self.next({...}, condition="attr")
    JOIN = "join"  # def step(self, inputs)
    END = "end"  # the end step: no self.next

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class DecoratorInfo:
    """A decorator on a step or on the flow's class, as written, with its arguments.

    ``file`` is set for a flow decorator (it may be written on a base class in
    another file); a step decorator is in its step's file.
    """

    name: str
    attributes: dict[str, Any]
    line: int | None = None
    file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "attributes": _jsonable(self.attributes), "line": self.line}
        if self.file is not None:
            out["file"] = self.file
        return out


@dataclass(frozen=True)
class ParameterInfo:
    """A parameter of the flow: CLI name, attribute, type, default, help.

    ``file`` and ``line`` locate the ``attribute = Parameter(...)`` assignment
    (in the base class that defines it, for an inherited parameter);
    ``definition_problems`` are the reasons the definition is unusable, as
    :meth:`grange.parameters.Parameter.definition_problems` gives them.
    """

    name: str
    attribute: str
    type: str
    default: Any
    required: bool
    help: str | None
    is_file: bool = False
    file: str | None = None
    line: int | None = None
    definition_problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "attribute": self.attribute,
            "type": self.type,
            "default": _jsonable(self.default),
            "required": self.required,
            "help": self.help,
            "is_file": self.is_file,
        }


@dataclass
class StepNode:
    """One step of the flow and its edges.

    ``out_funcs`` are the steps named by ``self.next`` (for a switch, the
    case targets in case order); ``in_funcs`` are the steps that name this one.
    ``transition_problem`` says why the step's ``self.next`` could not be read
    (lint turns it into an error); it is None for a well-formed step.
    ``misplaced_next`` is set when a ``self.next`` call exists but is not the
    step's last statement: the kind of block holding it (``"if"``, ``"for"``,
    ``"while"``, ``"try"``, ``"with"``, ``"match"``), ``"early"`` for a
    ``self.next`` statement followed by more code, ``"expression"`` for a
    call buried in another statement, or ``"twice"`` when the step ends with
    ``self.next`` but calls it before too (``next_lines`` lists every call).
    """

    name: str
    type: NodeType
    file: str
    line: int
    doc: str | None = None
    decorators: tuple[DecoratorInfo, ...] = ()
    num_args: int = 1
    out_funcs: tuple[str, ...] = ()
    in_funcs: tuple[str, ...] = ()
    foreach_var: str | None = None
    # self.next(self.a, num_parallel=N): N as written (an int literal, else the
    # expression's source text, evaluated when the step runs).
    num_parallel: int | str | None = None
    switch_condition: str | None = None
    switch_cases: dict[Any, str] = field(default_factory=dict)
    has_next: bool = False
    next_line: int | None = None
    next_lines: tuple[int, ...] = ()
    transition_problem: str | None = None
    misplaced_next: str | None = None
    defined_in: str | None = None  # the class that defines the step (inheritance)
    # Filled by the structure pass (see graph.structure):
    split_parents: tuple[str, ...] = ()
    matching_join: str | None = None
    is_loop: bool = False

    @property
    def is_split(self) -> bool:
        return self.type in (NodeType.SPLIT_STATIC, NodeType.SPLIT_FOREACH, NodeType.SPLIT_PARALLEL)

    @property
    def is_fanout(self) -> bool:
        """A foreach or a gang: one target, run as many tasks."""
        return self.type in (NodeType.SPLIT_FOREACH, NodeType.SPLIT_PARALLEL)

    @property
    def parallel_step(self) -> bool:
        """The step is ``@parallel``: its tasks run as one gang."""
        return self.decorator("parallel") is not None

    @property
    def is_switch(self) -> bool:
        return self.type is NodeType.SPLIT_SWITCH

    @property
    def is_join(self) -> bool:
        return self.type is NodeType.JOIN

    def decorator(self, name: str) -> DecoratorInfo | None:
        return next((d for d in self.decorators if d.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type.value,
            "file": self.file,
            "line": self.line,
            "doc": self.doc,
            "decorators": [d.to_dict() for d in self.decorators],
            "next": list(self.out_funcs),
            "in": list(self.in_funcs),
            "split_parents": list(self.split_parents),
            "matching_join": self.matching_join,
        }
        if self.foreach_var is not None:
            out["foreach_var"] = self.foreach_var
        if self.num_parallel is not None:
            out["num_parallel"] = self.num_parallel
        if self.is_switch:
            out["condition"] = self.switch_condition
            out["switch_cases"] = {str(k): v for k, v in self.switch_cases.items()}
            out["is_loop"] = self.is_loop
        return out


@dataclass
class FlowGraph:
    """The static graph of one flow class.

    Iterating yields the steps in execution order (depth-first from the start,
    following ``self.next`` order), then any unreachable steps by line.
    """

    name: str
    file: str
    line: int
    doc: str | None
    nodes: dict[str, StepNode]
    parameters: tuple[ParameterInfo, ...] = ()
    start: str = "start"
    end: str = "end"
    # Methods of the flow class that are not steps (for lint's hints).
    other_methods: tuple[str, ...] = ()
    # Flow decorators (@project, ...), base classes' first, each class's top first.
    decorators: tuple[DecoratorInfo, ...] = ()
    # Problems found while reading the class (decorator misuse, missing source);
    # lint reports them. Each is (rule, message, file, line, step, fix).
    definition_problems: list[tuple[str, str, str, int | None, str | None, str]] = field(
        default_factory=list
    )
    # Attributes of the flow class that are configs (``cfg = Config(...)``).
    config_attributes: tuple[str, ...] = ()

    @classmethod
    def from_flow_class(cls, flow_cls: type) -> FlowGraph:
        from grange.graph.parse import parse_flow_class

        return parse_flow_class(flow_cls)

    def __getitem__(self, name: str) -> StepNode:
        return self.nodes[name]

    def decorator(self, name: str) -> DecoratorInfo | None:
        """The flow decorator ``@name`` (e.g. ``project``), or None."""
        return next((d for d in self.decorators if d.name == name), None)

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def __iter__(self) -> Iterator[StepNode]:
        return iter(self.sorted_nodes())

    def __len__(self) -> int:
        return len(self.nodes)

    def sorted_nodes(self) -> list[StepNode]:
        """Steps in topological order from the start (a switch's self-loop is
        ignored), first branches first; unreachable steps last, by line."""
        post: list[str] = []
        seen: set[str] = set()
        if self.start in self.nodes:
            seen.add(self.start)
            stack: list[tuple[str, Iterator[str]]] = [
                (self.start, iter(self._children(self.start)))
            ]
            while stack:
                name, children = stack[-1]
                for child in children:
                    if child not in seen:
                        seen.add(child)
                        stack.append((child, iter(self._children(child))))
                        break
                else:
                    stack.pop()
                    post.append(name)
        rest = sorted(
            (n for n in self.nodes.values() if n.name not in seen), key=lambda n: (n.file, n.line)
        )
        return [self.nodes[n] for n in reversed(post)] + rest

    def _children(self, name: str) -> list[str]:
        # Reversed, so that reversing the post-order puts the first branch first.
        return [c for c in reversed(self.nodes[name].out_funcs) if c in self.nodes and c != name]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: flow facts, parameters and every step."""
        return {
            "flow": self.name,
            "file": self.file,
            "line": self.line,
            "doc": self.doc,
            "start": self.start,
            "end": self.end,
            "decorators": [d.to_dict() for d in self.decorators],
            "parameters": [p.to_dict() for p in self.parameters],
            "steps": {n.name: n.to_dict() for n in self.sorted_nodes()},
        }


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if callable(value):
        return f"<function {getattr(value, '__name__', '?')}>"
    return repr(value)
