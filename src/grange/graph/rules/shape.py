"""Rules about the shape of the graph: loops, unreachable steps, splits and joins."""

from __future__ import annotations

from collections.abc import Iterator

from grange.exceptions import LintProblem
from grange.graph.model import FlowGraph, NodeType
from grange.graph.rules import at_next, at_step
from grange.graph.structure import annotate


def cycles(graph: FlowGraph) -> Iterator[LintProblem]:
    """(cycle) The graph has no loop, except a switch step that goes back to itself."""
    reported: set[str] = set()
    for loop in _loops(graph):
        if reported & set(loop):
            continue
        reported.update(loop)
        closer = graph[loop[-2]]
        yield at_next(
            "cycle",
            closer,
            f"the flow goes round in a loop: {' -> '.join(loop)}",
            f"change the self.next(...) of '{closer.name}' so that it does not go back to "
            f"'{loop[-1]}'; only a switch may repeat a step, by going back to itself: "
            f"self.next({{'again': self.{closer.name}, 'done': self.<next step>}}, "
            "condition='attr')",
        )


def _edges(graph: FlowGraph, name: str) -> list[str]:
    """Where ``name`` goes, leaving out a switch's edge back to itself."""
    node = graph[name]
    return [t for t in node.out_funcs if t in graph.nodes and not (node.is_switch and t == name)]


def _loops(graph: FlowGraph) -> Iterator[list[str]]:
    """Each loop met by a depth-first walk from the start (then from any step not yet seen),
    as the path from the step it returns to, back to that step."""
    state: dict[str, bool] = {}  # True while on the current path, False when done
    for root in [graph.start, *graph.nodes]:
        if root not in graph.nodes or root in state:
            continue
        path, todo = [root], [iter(_edges(graph, root))]
        state[root] = True
        while todo:
            step = next(todo[-1], None)
            if step is None:
                state[path.pop()] = False
                todo.pop()
            elif state.get(step):
                yield [*path[path.index(step) :], step]
            elif step not in state:
                state[step] = True
                path.append(step)
                todo.append(iter(_edges(graph, step)))


def orphans(graph: FlowGraph) -> Iterator[LintProblem]:
    """(orphan) Every step can be reached from the start step."""
    reached = {graph.start}
    todo = [graph.start]
    while todo:
        for step in graph[todo.pop()].out_funcs:
            if step not in reached:
                reached.add(step)
                todo.append(step)
    lost = [n for n in graph.nodes.values() if n.name not in reached]
    # Report the first steps of each unreachable part, not every step after them.
    firsts = [n for n in lost if all(p == n.name for p in n.in_funcs)]
    for node in firsts or lost:
        yield at_step(
            "orphan",
            node,
            f"step '{node.name}' is never run: no step on the way from '{graph.start}' goes to it",
            f"add self.{node.name} to the self.next(...) of the step that should run "
            f"before it, or delete '{node.name}'",
        )


def split_join_balance(graph: FlowGraph) -> Iterator[LintProblem]:
    """(split-join-balance) Every split is closed by one join that gathers all its branches.

    Only the first problem (in flow order) is reported: a branch that misses its
    join unbalances every join and the end step after it, and those follow-on
    problems disappear once the first is fixed.
    """
    problems = annotate(graph)
    if problems:
        first = problems[0]
        yield at_step("split-join-balance", graph[first.step], first.message, first.fix)


def foreach_into_join(graph: FlowGraph) -> Iterator[LintProblem]:
    """(foreach-into-join) A foreach goes to a step that does the work, not straight to a join."""
    for node in graph.nodes.values():
        if node.type is not NodeType.SPLIT_FOREACH:
            continue
        for target in node.out_funcs:
            if graph[target].is_join:
                yield at_next(
                    "foreach-into-join",
                    node,
                    f"foreach step '{node.name}' goes straight to the join '{target}', so "
                    "there is no step to run for each item",
                    f"add a step between them: self.next(self.work, foreach="
                    f"'{node.foreach_var}') in '{node.name}', and a step 'work' that ends "
                    f"with self.next(self.{target})",
                )


def switch_into_join(graph: FlowGraph) -> Iterator[LintProblem]:
    """(switch-into-join) No case of a switch goes straight to a join."""
    for node in graph.nodes.values():
        if not node.is_switch:
            continue
        for target in node.out_funcs:
            if not graph[target].is_join:
                continue
            cases = [repr(k) for k, v in node.switch_cases.items() if v == target]
            yield at_next(
                "switch-into-join",
                node,
                f"switch step '{node.name}' goes straight to the join '{target}' "
                f"(case {', '.join(cases)}); only one case runs, so the join cannot "
                "tell whether that path will arrive",
                f"insert a step that always runs on that path: let the case go to a new "
                f"step that ends with self.next(self.{target})",
            )
