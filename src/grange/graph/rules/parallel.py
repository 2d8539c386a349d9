"""Rules about ``@parallel`` gangs: ``self.next(self.train, num_parallel=N)``.

The same three rules as Metaflow's linter (``check_parallel_step_after_next``,
``check_join_followed_by_parallel_step``, ``check_parallel_foreach_calls_parallel_step``):

- parallel-target: the step ``num_parallel=`` goes to is ``@parallel``;
- parallel-join: a ``@parallel`` step goes straight to a join (which gathers
  every member of the gang);
- parallel-caller: a ``@parallel`` step is reached only through ``num_parallel=``.
"""

from __future__ import annotations

from collections.abc import Iterator

from grange.exceptions import LintProblem
from grange.graph.model import FlowGraph, NodeType
from grange.graph.rules import at_next, at_step


def parallel_targets(graph: FlowGraph) -> Iterator[LintProblem]:
    """(parallel-target) ``num_parallel=`` goes to a ``@parallel`` step."""
    for node in graph.nodes.values():
        if node.type is not NodeType.SPLIT_PARALLEL:
            continue
        for target in node.out_funcs:
            if not graph[target].parallel_step:
                yield at_next(
                    "parallel-target",
                    node,
                    f"step '{node.name}' starts a gang of '{target}' with "
                    f"self.next(..., num_parallel=...), but '{target}' is not a @parallel step",
                    f"put @parallel above @step on 'def {target}', or drop num_parallel= "
                    f"to run '{target}' once",
                )


def parallel_joins(graph: FlowGraph) -> Iterator[LintProblem]:
    """(parallel-join) A ``@parallel`` step goes straight to a join."""
    for node in graph.nodes.values():
        if not node.parallel_step:
            continue
        nxt = node.out_funcs[0] if len(node.out_funcs) == 1 else None
        if nxt is None or not graph[nxt].is_join:
            where = f"'{nxt}', which is not a join" if nxt else _describe_next(node.out_funcs)
            yield at_next(
                "parallel-join",
                node,
                f"@parallel step '{node.name}' goes to {where}; the step after a gang "
                "must be a join that gathers its tasks",
                f"end '{node.name}' with self.next(self.<join>) and define that step as "
                "def <join>(self, inputs)",
            )


def parallel_callers(graph: FlowGraph) -> Iterator[LintProblem]:
    """(parallel-caller) A ``@parallel`` step is reached only with ``num_parallel=``."""
    for node in graph.nodes.values():
        if not node.parallel_step:
            continue
        for caller in sorted(node.in_funcs):
            if graph[caller].type is not NodeType.SPLIT_PARALLEL:
                yield at_step(
                    "parallel-caller",
                    node,
                    f"step '{node.name}' is @parallel, but step '{caller}' goes to it without "
                    "num_parallel=",
                    f"in '{caller}', write self.next(self.{node.name}, num_parallel=<number of "
                    f"tasks>), or remove @parallel from '{node.name}'",
                )


def _describe_next(out_funcs: tuple[str, ...]) -> str:
    if not out_funcs:
        return "no step"
    return "several steps (" + ", ".join(out_funcs) + ")"
