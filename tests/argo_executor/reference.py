"""A minimal WorkflowTemplate per the pod protocol, for testing the step command's
Argo mode before (and independently of) the real compiler (grange.deploy.argo).

It follows the shape the compiler agreed to emit (docs/production.md, "How a
flow runs on Argo"): one container template per step, an entry DAG named after
the flow, foreach as split -> batches (``withParam``) -> ``withSequence`` ->
body DAG with ``index: "{{inputs.parameters.index}}.{{item}}"``, switch cases
under ``when``, output parameters from an emptyDir at /mnt/out. Its containers
run ``python FLOW ... step`` directly (no code package), and it handles the
test flows' shapes only: no looping switch, no @parallel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grange.decorators.registry import step_decorators, task_options
from grange.graph import FlowGraph, graph_of


def tname(step: str) -> str:
    return step.replace("_", "-")


def reference_template(
    flow_cls: type,
    flow_file: str,
    *,
    name: str,
    top_level: Sequence[str] = (),
    parameters: dict[str, str] | None = None,
    foreach_batch_size: int = 1000,
    retry_backoff: str = "0s",
) -> dict[str, Any]:
    graph = graph_of(flow_cls)
    templates: list[dict[str, Any]] = []
    dags: dict[str | None, list[dict[str, Any]]] = {None: []}
    for node in graph:
        scope = _scope(graph, node.name)
        dags.setdefault(scope, [])
        task: dict[str, Any] = {
            "name": tname(node.name),
            "template": tname(node.name),
            "arguments": {"parameters": [{"name": "index", "value": _index(scope)}]},
        }
        depends = _depends(graph, node.name, scope)
        if depends:
            task["depends"] = depends
        for parent in node.in_funcs:
            if graph[parent].is_switch and _scope(graph, parent) == scope:
                out = f"{{{{tasks.{tname(parent)}.outputs.parameters.switch-step}}}}"
                task["when"] = f"'{out}' == '{node.name}'"
        dags[scope].append(task)
        if node.is_fanout:
            dags.setdefault(node.name, [])
            dags[scope].append(
                {
                    "name": f"{tname(node.name)}-foreach",
                    "template": f"{tname(node.name)}-batch",
                    "depends": f"{tname(node.name)}.Succeeded",
                    "withParam": f"{{{{tasks.{tname(node.name)}.outputs.parameters.batches}}}}",
                    "arguments": {
                        "parameters": [
                            {"name": "start", "value": "{{item.start}}"},
                            {"name": "end", "value": "{{item.end}}"},
                            {"name": "index", "value": _index(scope)},
                        ]
                    },
                }
            )
            templates.append(
                {
                    "name": f"{tname(node.name)}-batch",
                    "inputs": {
                        "parameters": [{"name": "start"}, {"name": "end"}, {"name": "index"}]
                    },
                    "dag": {
                        "tasks": [
                            {
                                "name": "item",
                                "template": f"{tname(node.name)}-body",
                                "withSequence": {
                                    "start": "{{inputs.parameters.start}}",
                                    "end": "{{inputs.parameters.end}}",
                                },
                                "arguments": {
                                    "parameters": [
                                        {
                                            "name": "index",
                                            "value": "{{inputs.parameters.index}}.{{item}}",
                                        }
                                    ]
                                },
                            }
                        ]
                    },
                }
            )
        templates.append(
            _container(
                graph,
                flow_cls,
                flow_file,
                node.name,
                top_level,
                retry_backoff,
                foreach_batch_size,
                parameters or {},
            )
        )
    for scope, tasks in dags.items():
        templates.append(
            {
                "name": flow_cls.__name__ if scope is None else f"{tname(scope)}-body",
                **({} if scope is None else {"inputs": {"parameters": [{"name": "index"}]}}),
                "dag": {"tasks": tasks},
            }
        )
    finish = [
        "python",
        flow_file,
        *top_level,
        "argo-finish",
        "--run-id",
        "argo-{{workflow.name}}",
        "--status",
        "{{workflow.status}}",
    ]
    templates.append({"name": "exit-hook", "container": {"image": "python", "command": finish}})
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": name},
        "spec": {
            "entrypoint": flow_cls.__name__,
            "onExit": "exit-hook",
            "arguments": {
                "parameters": [{"name": k, "value": v} for k, v in (parameters or {}).items()]
            },
            "volumes": [{"name": "out", "emptyDir": {}}],
            "templates": templates,
        },
    }


def _scope(graph: FlowGraph, step: str) -> str | None:
    """The innermost foreach split whose body holds ``step`` (None: the entry DAG)."""
    foreach = [p for p in graph[step].split_parents if graph[p].is_fanout]
    return foreach[-1] if foreach else None


def _index(scope: str | None) -> str:
    return "" if scope is None else "{{inputs.parameters.index}}"


def _depends(graph: FlowGraph, step: str, scope: str | None) -> str:
    node = graph[step]
    parts = []
    for parent in node.in_funcs:
        if parent == step:
            continue
        if graph[parent].is_fanout:  # the first step of a body: its DAG starts with it
            continue
        if _scope(graph, parent) == scope:
            parts.append(f"{tname(parent)}.Succeeded")
        else:  # the last step of a foreach body: wait for the whole foreach
            split = _scope(graph, parent)
            assert split is not None
            parts.append(f"{tname(split)}-foreach.Succeeded")
    joiner = " && " if node.is_join else " || "
    return joiner.join(dict.fromkeys(parts))


def _container(
    graph: FlowGraph,
    flow_cls: type,
    flow_file: str,
    step: str,
    top_level: Sequence[str],
    backoff: str,
    batch_size: int,
    parameters: dict[str, str],
) -> dict[str, Any]:
    options = task_options(step_decorators(getattr(flow_cls, step)))
    args = [
        "--run-id", "argo-{{workflow.name}}",
        "--argo-index", "{{inputs.parameters.index}}",
        "--retry-count", "{{retries}}",
        "--max-user-retries", str(options.retries),
        "--outputs-dir", "/mnt/out",
        "--argo-workflow-uid", "{{workflow.uid}}",
        "--foreach-batch-size", str(batch_size),
    ]  # fmt: skip
    if step == graph.start:
        for name in parameters:
            args += ["--argo-parameter", f"{name}={{{{workflow.parameters.{name}}}}}"]
    outputs = [{"name": "task-id", "valueFrom": {"path": "/mnt/out/task-id"}}]
    node = graph[step]
    if node.is_fanout:
        outputs += [
            {"name": n, "valueFrom": {"path": f"/mnt/out/{n}"}} for n in ("count", "batches")
        ]
    if node.is_switch:
        outputs.append({"name": "switch-step", "valueFrom": {"path": "/mnt/out/switch-step"}})
    template: dict[str, Any] = {
        "name": tname(step),
        "inputs": {"parameters": [{"name": "index"}]},
        "outputs": {"parameters": outputs},
        "container": {
            "image": "python",
            "command": ["python", flow_file, *top_level, "step", step],
            "args": args,
            "volumeMounts": [{"name": "out", "mountPath": "/mnt/out"}],
        },
    }
    limit = options.retries + (1 if options.catch else 0)
    if limit:
        template["retryStrategy"] = {
            "limit": limit,
            "retryPolicy": "Always",
            "backoff": {"duration": backoff},
        }
    if options.timeout:
        template["activeDeadlineSeconds"] = int(options.timeout) + 30
    return template
