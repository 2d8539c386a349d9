"""The flow's graph as Argo DAG templates.

- The entry DAG (named after the flow) holds one task per step outside any
  foreach. Edges are ``depends`` on ``<task>.Succeeded``.
- A foreach ``F``: the split task, then ``F-foreach`` (``withParam`` over the
  split's ``batches`` output: ``[{"start": s, "end": e}, ...]``) calling the
  ``F-batch`` DAG, whose one task ``F-item`` (``withSequence`` from start to
  end) calls ``F-body`` with ``index: "<outer index>.<item>"`` -- or, when the
  body is a single step, that step's container template directly (one node per
  item instead of two). The body DAG holds the steps up to the join; a nested
  foreach nests the same way. The join depends on ``F-foreach``: it finds its
  parents from the split's record, so no list moves through Argo.
- A static split/join is plain edges.
- A switch: the first step of each case runs ``when`` the switch's
  ``switch-step`` output names it, so only the chosen case runs and the others
  are Skipped (their followers Omitted). A step where cases meet again runs if
  any of its parents ran: ``depends: (a.Succeeded || b.Succeeded)``, and, when
  one parent is the switch itself, ``when`` that switch chose it or another
  parent succeeded.
"""

from __future__ import annotations

from collections.abc import Callable

from hera.workflows import models as m

from grange.deploy.argo import naming
from grange.exceptions import CompileError
from grange.graph.model import FlowGraph, NodeType, StepNode

INDEX = "{{inputs.parameters.index}}"
StepTemplate = Callable[[StepNode, bool], m.Template]  # (node, in_foreach) -> container


def check_supported(graph: FlowGraph) -> None:
    """Refuse, with the step and line, what the compiler cannot express yet."""
    for node in graph:
        if node.type is NodeType.SPLIT_PARALLEL or node.parallel_step:
            what = (
                "starts a gang of @parallel tasks (num_parallel)"
                if node.type is NodeType.SPLIT_PARALLEL
                else "is a @parallel step"
            )
            raise CompileError(
                f"step '{node.name}' {what}, which cannot be deployed to Argo Workflows yet",
                file=node.file,
                line=node.next_line or node.line,
                step=node.name,
                fix="run the flow locally (python flow.py run), or replace the gang with a "
                "foreach while @parallel on Argo is not available",
            )
        if node.is_loop:
            raise CompileError(
                f"switch step '{node.name}' can choose itself again (a loop), which cannot be "
                "deployed to Argo Workflows yet",
                file=node.file,
                line=node.next_line or node.line,
                step=node.name,
                fix="run the flow locally, or unroll the loop into a foreach over the iterations",
            )


def scope_of(graph: FlowGraph, node: StepNode) -> str | None:
    """The innermost foreach whose body holds ``node`` (None: the entry DAG)."""
    for split in reversed(node.split_parents):
        if graph[split].type is NodeType.SPLIT_FOREACH:
            return split
    return None


class DagBuilder:
    """Builds the entry DAG and every foreach's batch and body DAGs."""

    def __init__(self, graph: FlowGraph, entry: str) -> None:
        self.graph = graph
        self.entry = entry
        self.scopes: dict[str, str | None] = {n.name: scope_of(graph, n) for n in graph}

    def members(self, scope: str | None) -> list[StepNode]:
        return [n for n in self.graph if self.scopes[n.name] == scope]

    def templates(self) -> list[m.Template]:
        """Every DAG template: the entry first, then each foreach's batch and body."""
        out = [self._dag(self.entry, None)]
        for node in self.graph:
            if node.type is NodeType.SPLIT_FOREACH:
                body = self.members(node.name)
                out.append(self._batch(node, body))
                if len(body) != 1:
                    out.append(self._dag(naming.body_template(node.name), node.name))
        return out

    # -- templates -----------------------------------------------------------------

    def _dag(self, name: str, scope: str | None) -> m.Template:
        tasks: list[m.DAGTask] = []
        for node in self.members(scope):
            tasks.append(self._step_task(node, scope))
            if node.type is NodeType.SPLIT_FOREACH:
                tasks.append(self._foreach_task(node, scope))
        template = m.Template(name=name, dag=m.DAGTemplate(tasks=tasks))
        if scope is not None:
            template.inputs = m.Inputs(parameters=[m.Parameter(name="index")])
        return template

    def _batch(self, split: StepNode, body: list[StepNode]) -> m.Template:
        target = (
            naming.step_template(body[0].name)
            if len(body) == 1
            else naming.body_template(split.name)
        )
        task = m.DAGTask(
            name=naming.item_task(split.name),
            template=target,
            with_sequence=m.Sequence(
                start=m.IntOrString("{{inputs.parameters.start}}"),
                end=m.IntOrString("{{inputs.parameters.end}}"),
            ),
            arguments=m.Arguments(
                parameters=[m.Parameter(name="index", value=f"{INDEX}.{{{{item}}}}")]
            ),
        )
        return m.Template(
            name=naming.batch_template(split.name),
            inputs=m.Inputs(parameters=[m.Parameter(name=p) for p in ("start", "end", "index")]),
            dag=m.DAGTemplate(tasks=[task]),
        )

    # -- tasks ---------------------------------------------------------------------

    def _step_task(self, node: StepNode, scope: str | None) -> m.DAGTask:
        task = m.DAGTask(
            name=naming.step_template(node.name), template=naming.step_template(node.name)
        )
        if scope is not None:
            task.arguments = m.Arguments(parameters=[m.Parameter(name="index", value=INDEX)])
        depends, when = self._edges(node, scope)
        task.depends = depends
        task.when = when
        return task

    def _foreach_task(self, split: StepNode, scope: str | None) -> m.DAGTask:
        name = naming.step_template(split.name)
        return m.DAGTask(
            name=naming.foreach_task(split.name),
            template=naming.batch_template(split.name),
            depends=f"{name}.Succeeded",
            with_param=f"{{{{tasks.{name}.outputs.parameters.batches}}}}",
            arguments=m.Arguments(
                parameters=[
                    m.Parameter(name="start", value="{{item.start}}"),
                    m.Parameter(name="end", value="{{item.end}}"),
                    m.Parameter(name="index", value=INDEX if scope is not None else ""),
                ]
            ),
        )

    def _edges(self, node: StepNode, scope: str | None) -> tuple[str | None, str | None]:
        """``depends`` and ``when`` of a step's task."""
        parents: list[tuple[str, StepNode]] = []  # (task in this DAG, parent step)
        for name in node.in_funcs:
            if name == node.name or name not in self.graph:
                continue
            rep = self._representative(self.graph[name], scope)
            if rep is not None and rep not in [r for r, _ in parents]:
                parents.append((rep, self.graph[name]))
        if not parents:
            return None, None
        if node.is_join or len(parents) == 1:
            depends = " && ".join(f"{r}.Succeeded" for r, _ in parents)
        else:
            depends = "(" + " || ".join(f"{r}.Succeeded" for r, _ in parents) + ")"
        switches = [r for r, p in parents if p.is_switch and r == naming.step_template(p.name)]
        if not switches or node.is_join:
            return depends, None
        for rep, parent in parents:
            if rep in switches:
                self._check_switch_ran(node, parent, [p for r, p in parents if r != rep])
        terms = []
        for rep, _ in parents:
            if rep in switches:
                terms.append(
                    f"'{{{{tasks.{rep}.outputs.parameters.switch-step}}}}' == '{node.name}'"
                )
            else:
                terms.append(f"'{{{{tasks.{rep}.status}}}}' == 'Succeeded'")
        return depends, " || ".join(terms)

    def _check_switch_ran(self, node: StepNode, switch: StepNode, others: list[StepNode]) -> None:
        """``node``'s ``when`` reads ``switch``'s output, which exists only if the switch
        ran (Argo fails a run that reads a skipped task's output): so every other parent
        must be reachable only through the switch."""
        for other in others:
            if not self._dominates(switch.name, other.name):
                raise CompileError(
                    f"step '{node.name}' is a case of switch '{switch.name}' and is also reached "
                    f"from '{other.name}', which can run when '{switch.name}' does not: Argo "
                    "cannot tell which way the flow came",
                    file=node.file,
                    line=node.line,
                    step=node.name,
                    fix=f"let the case of '{switch.name}' go to a small step of its own that "
                    f"then goes to '{node.name}'",
                )

    def _dominates(self, first: str, step: str) -> bool:
        """Every path from the start to ``step`` passes through ``first``."""
        seen = {self.graph.start}
        todo = [self.graph.start] if self.graph.start != first else []
        while todo:
            cur = todo.pop()
            if cur == step:
                return False
            for nxt in self.graph[cur].out_funcs:
                if nxt in self.graph and nxt not in seen and nxt != first:
                    seen.add(nxt)
                    todo.append(nxt)
        return True

    def _representative(self, parent: StepNode, scope: str | None) -> str | None:
        """The task of this DAG that stands for ``parent``: the parent's own task, the
        foreach task whose body holds it, or None when it is outside this DAG."""
        if self.scopes[parent.name] == scope:
            return naming.step_template(parent.name)
        for split in parent.split_parents:
            if self.graph[split].type is NodeType.SPLIT_FOREACH and self.scopes[split] == scope:
                return naming.foreach_task(split)
        return None
