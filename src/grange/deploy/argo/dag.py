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
- A gang (``num_parallel=N`` to a ``@parallel`` step ``P``): the split task, then
  ``S-gang``, a DAG template with the @parallel step's ``retryStrategy`` whose one
  task ``S-node`` runs ``P``'s container ``withSequence: {count: N}`` (N from the
  split's ``count`` output), all at once. A retry of the DAG runs the whole gang
  again; its ``{{retries}}`` reaches every pod as the ``retry-count`` input, so
  the N pods of an attempt share its number. The join depends on ``S-gang``.
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
from grange.deploy.argo.settings import ArgoSettings
from grange.exceptions import CompileError
from grange.graph.model import FlowGraph, NodeType, StepNode

INDEX = "{{inputs.parameters.index}}"
RETRY_COUNT = "retry-count"  # a gang's container: its attempt, from the gang DAG's retries
GangRetry = Callable[[StepNode], "m.RetryStrategy | None"]  # the @parallel step's retries


def check_supported(graph: FlowGraph, settings: ArgoSettings) -> None:
    """Refuse, with the step and line, what the compiler cannot express yet."""
    for node in graph:
        gang = node.num_parallel if node.type is NodeType.SPLIT_PARALLEL else None
        if isinstance(gang, int) and gang > settings.max_workers:
            raise CompileError(
                f"step '{node.name}' starts a gang of num_parallel={node.num_parallel} "
                f"pods, more than --max-workers {settings.max_workers} (Argo's "
                "parallelism): the gang's pods must all run at once",
                file=node.file,
                line=node.next_line or node.line,
                step=node.name,
                fix=f"deploy with --max-workers {node.num_parallel} or more, or make "
                "the gang smaller",
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
    """The innermost foreach (or gang) whose body holds ``node`` (None: the entry DAG)."""
    for split in reversed(node.split_parents):
        if graph[split].is_fanout:
            return split
    return None


class DagBuilder:
    """Builds the entry DAG and every foreach's batch and body DAGs."""

    def __init__(self, graph: FlowGraph, entry: str, gang_retry: GangRetry | None = None) -> None:
        self.graph = graph
        self.entry = entry
        self.gang_retry = gang_retry or (lambda node: None)
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
            elif node.type is NodeType.SPLIT_PARALLEL:
                out.append(self._gang(node))
        return out

    # -- templates -----------------------------------------------------------------

    def _dag(self, name: str, scope: str | None) -> m.Template:
        tasks: list[m.DAGTask] = []
        for node in self.members(scope):
            tasks.append(self._step_task(node, scope))
            if node.type is NodeType.SPLIT_FOREACH:
                tasks.append(self._foreach_task(node, scope))
            elif node.type is NodeType.SPLIT_PARALLEL:
                tasks.append(self._gang_task(node, scope))
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

    def _gang(self, split: StepNode) -> m.Template:
        """A gang: ``count`` pods of the @parallel step at once (``withSequence``), retried
        whole: a retry of this DAG runs all of them again, each told the DAG's attempt."""
        body = self.graph[split.out_funcs[0]]
        retry = self.gang_retry(body)
        task = m.DAGTask(
            name=naming.node_task(split.name),
            template=naming.step_template(body.name),
            with_sequence=m.Sequence(count=m.IntOrString("{{inputs.parameters.count}}")),
            arguments=m.Arguments(
                parameters=[
                    m.Parameter(name="index", value=f"{INDEX}.{{{{item}}}}"),
                    m.Parameter(name=RETRY_COUNT, value="{{retries}}" if retry else "0"),
                ]
            ),
        )
        return m.Template(
            name=naming.gang_template(split.name),
            inputs=m.Inputs(parameters=[m.Parameter(name=p) for p in ("count", "index")]),
            dag=m.DAGTemplate(tasks=[task]),
            retry_strategy=retry,
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

    def _gang_task(self, split: StepNode, scope: str | None) -> m.DAGTask:
        name = naming.step_template(split.name)
        return m.DAGTask(
            name=naming.gang_template(split.name),
            template=naming.gang_template(split.name),
            depends=f"{name}.Succeeded",
            arguments=m.Arguments(
                parameters=[
                    m.Parameter(
                        name="count", value=f"{{{{tasks.{name}.outputs.parameters.count}}}}"
                    ),
                    m.Parameter(name="index", value=INDEX if scope is not None else ""),
                ]
            ),
        )

    def _join_depends(self, join: StepNode, parents: list[tuple[str, StepNode]]) -> str:
        """A join waits for every branch of the split it closes; parents that are the
        cases of a switch inside one branch are alternatives (only one runs), so
        each branch is an OR of its parents: ``(x.Succeeded || y.Succeeded) && b.Succeeded``."""
        split = next((n.name for n in self.graph if n.matching_join == join.name), None)
        branches: dict[str, list[str]] = {}
        for rep, parent in parents:
            head = self._branch_head(parent.name, split) if split else parent.name
            branches.setdefault(head, []).append(f"{rep}.Succeeded")
        terms = [t[0] if len(t) == 1 else "(" + " || ".join(t) + ")" for t in branches.values()]
        return " && ".join(terms)

    def _branch_head(self, step: str, split: str) -> str:
        """The first step of the branch of ``split`` that ``step`` is on."""
        seen: set[str] = set()
        while step not in seen:
            seen.add(step)
            node = self.graph[step]
            if split in node.in_funcs or not node.in_funcs:
                return step
            step = next((p for p in node.in_funcs if p != step), node.in_funcs[0])
        return step

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
        if node.is_join:
            depends = self._join_depends(node, parents)
        elif len(parents) == 1:
            depends = f"{parents[0][0]}.Succeeded"
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
        foreach (or gang) task whose body holds it, or None when it is outside this DAG."""
        if self.scopes[parent.name] == scope:
            return naming.step_template(parent.name)
        for split in parent.split_parents:
            kind = self.graph[split].type
            if self.scopes[split] == scope:
                if kind is NodeType.SPLIT_FOREACH:
                    return naming.foreach_task(split)
                if kind is NodeType.SPLIT_PARALLEL:
                    return naming.gang_template(split)
        return None
