"""Split/join structure: which splits enclose each step, and which join closes each split.

Walks the graph in topological order from the start, carrying a stack of the
splits (static or foreach) that enclose the current step; each stack entry is
the split and the branch taken from it. A switch does not open a split: only
one of its cases runs, so its cases carry the switch's own stack and may merge
again in an ordinary step. A join closes the innermost open split and must
collect every branch of it.

:func:`annotate` fills ``split_parents``, ``matching_join`` and ``is_loop`` on
the nodes and returns the balance problems it found, for lint to report.
"""

from __future__ import annotations

from dataclasses import dataclass

from grange.graph.model import FlowGraph, NodeType, StepNode

Stack = tuple[tuple[str, str], ...]  # ((split step, branch root step), ...)


@dataclass(frozen=True)
class BalanceProblem:
    step: str
    message: str
    fix: str


def annotate(graph: FlowGraph) -> list[BalanceProblem]:
    """Fill in the split structure of ``graph``; return what is unbalanced."""
    problems: list[BalanceProblem] = []
    for node in graph.nodes.values():
        node.is_loop = node.is_switch and node.name in node.out_funcs
        node.split_parents = ()
        node.matching_join = None
    if graph.start not in graph.nodes:
        return problems
    stacks: dict[str, Stack] = {}
    order = [n for n in graph.sorted_nodes() if _reachable(graph, n.name)]
    for node in order:
        incoming = [
            _out_stack(graph[p], stacks[p], node.name)
            for p in node.in_funcs
            if p != node.name and p in stacks
        ]
        if node.name == graph.start or not incoming:
            stack: Stack = ()
        elif node.is_join:
            stack = _close_split(graph, node, incoming, problems)
        else:
            stack = incoming[0]
            if any(s != stack for s in incoming[1:]):
                problems.append(
                    BalanceProblem(
                        node.name,
                        f"step '{node.name}' is reached from branches of different splits "
                        f"({_describe(incoming)}) but is not a join",
                        f"make '{node.name}' a join (def {node.name}(self, inputs)) that closes "
                        "the split, or route every branch through the same join first",
                    )
                )
        stacks[node.name] = stack
        node.split_parents = tuple(split for split, _ in stack)
        if node.type is NodeType.END and stack:
            split = stack[-1][0]
            problems.append(
                BalanceProblem(
                    node.name,
                    f"the end step is reached before the branches of split '{split}' are joined",
                    f"add a join step (def join(self, inputs)) that the branches of '{split}' "
                    "go to, and go from it to the end step",
                )
            )
    return problems


def _reachable(graph: FlowGraph, name: str) -> bool:
    seen = {graph.start}
    todo = [graph.start]
    while todo:
        cur = todo.pop()
        if cur == name:
            return True
        for nxt in graph.nodes[cur].out_funcs:
            if nxt in graph.nodes and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def _out_stack(parent: StepNode, stack: Stack, child: str) -> Stack:
    if parent.is_split:
        return (*stack, (parent.name, child))
    return stack


def _close_split(
    graph: FlowGraph, join: StepNode, incoming: list[Stack], problems: list[BalanceProblem]
) -> Stack:
    if any(not s for s in incoming):
        problems.append(
            BalanceProblem(
                join.name,
                f"step '{join.name}' is a join (it takes 'inputs') but no split comes before it",
                f"remove the 'inputs' argument (def {join.name}(self)), or split into "
                "branches before it",
            )
        )
        return ()
    splits = {s[-1][0] for s in incoming}
    if len(splits) > 1 or len({s[:-1] for s in incoming}) > 1:
        names = " and ".join(f"'{s}'" for s in sorted(splits))
        problems.append(
            BalanceProblem(
                join.name,
                f"join '{join.name}' gathers branches of different splits ({names})",
                "join the branches of each split in a join of its own, then join those",
            )
        )
        return incoming[0][:-1]
    split = graph[incoming[0][-1][0]]
    joined = {s[-1][1] for s in incoming}
    missing = [b for b in split.out_funcs if b not in joined]
    if missing:
        problems.append(
            BalanceProblem(
                join.name,
                f"join '{join.name}' does not gather branch(es) "
                f"{', '.join(repr(m) for m in missing)} of split '{split.name}'",
                f"make every branch of '{split.name}' end in self.next(self.{join.name})",
            )
        )
    if split.matching_join not in (None, join.name):
        problems.append(
            BalanceProblem(
                join.name,
                f"the branches of split '{split.name}' end in two joins, "
                f"'{split.matching_join}' and '{join.name}'",
                f"send every branch of '{split.name}' to one join step",
            )
        )
    else:
        split.matching_join = join.name
    return incoming[0][:-1]


def _describe(stacks: list[Stack]) -> str:
    def one(stack: Stack) -> str:
        return " > ".join(f"{s}/{b}" for s, b in stack) or "outside any split"

    return "; ".join(sorted({one(s) for s in stacks}))
