"""Run a WorkflowTemplate (and the Workflow that triggers it) on this host.

See the package's docstring for what is implemented; :mod:`.refuse` lists the
fields, :mod:`.expressions` the small languages.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import re
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .expressions import ExpressionError, depends_tasks, eval_depends, eval_when, substitute
from .nodes import FAILED, Node, WorkflowResult, gen_suffix
from .pods import PodRunner
from .refuse import CLUSTER_ONLY, Refused, check, check_template, check_volume

_DAG_TASKS = " dag tasks"  # in a scope: the names of the DAG's tasks (no template can say it)


_TYPES = ("container", "dag")
_MERGE_KEYS = {"env": "name", "volumeMounts": "mountPath", "volumes": "name", "parameters": "name"}


def _merge(defaults: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """``templateDefaults`` under a template, as Argo's strategic merge does: maps
    merge, named lists (env, volumeMounts, volumes, parameters) merge by name, the
    template's own values win, and a default of another template type is dropped."""
    out = copy.deepcopy({k: v for k, v in defaults.items() if k not in _TYPES or k in own})
    for key, value in own.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        elif key in _MERGE_KEYS and isinstance(value, list) and isinstance(out.get(key), list):
            name = _MERGE_KEYS[key]
            mine = {item.get(name) for item in value}
            out[key] = [i for i in out[key] if i.get(name) not in mine] + copy.deepcopy(value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class Executor(PodRunner):
    """Runs one workflow; see :func:`run_workflow`."""

    def __init__(
        self,
        template: Mapping[str, Any],
        workflow: Mapping[str, Any] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        python: str = sys.executable,
        time_scale: float = 1.0,
        logs_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.python = python
        self.env = dict(env or {})
        self.cwd = str(cwd) if cwd else None
        self.time_scale = time_scale
        self.logs = Path(logs_dir or tempfile.mkdtemp(prefix="argo-exec-"))
        check("manifest", template, "WorkflowTemplate")
        if template.get("kind") not in ("WorkflowTemplate", "Workflow"):
            raise Refused(f"kind {template.get('kind')!r}")
        spec = dict(check("spec", template["spec"], "spec"))
        arguments = self._parameters(spec.get("arguments"), "spec.arguments")
        meta = template.get("metadata", {})
        name = meta.get("name") or meta.get("generateName", "wf-") + gen_suffix()
        if workflow is not None:
            check("manifest", workflow, "Workflow")
            if workflow.get("kind") != "Workflow":
                raise Refused(f"the run must be a Workflow, not {workflow.get('kind')!r}")
            wspec = check("spec", workflow["spec"], "Workflow.spec")
            extra = set(wspec) - {"workflowTemplateRef", "arguments"} - CLUSTER_ONLY["spec"]
            if extra:
                raise Refused(f"Workflow.spec: {sorted(extra)} beside workflowTemplateRef")
            ref = check("workflowTemplateRef", wspec.get("workflowTemplateRef", {}), "ref")
            if ref.get("name") != meta.get("name"):
                raise Refused(f"workflowTemplateRef {ref.get('name')!r} != {meta.get('name')!r}")
            for pname, value in self._parameters(
                wspec.get("arguments"), "Workflow.arguments"
            ).items():
                if pname not in arguments:
                    raise ExpressionError(
                        f"Workflow argument {pname!r} is not a template parameter"
                    )
                arguments[pname] = value
            wmeta = workflow.get("metadata", {})
            name = wmeta.get("name") or wmeta.get("generateName", name + "-") + gen_suffix()
        missing = [k for k, v in arguments.items() if v is None]
        if missing:
            raise ExpressionError(f"workflow parameters without a value: {missing}")
        self.name = name
        self.uid = str(uuid.uuid4())
        self.spec = spec
        defaults = spec.get("templateDefaults", {})
        if defaults:
            check("template", defaults, "templateDefaults")
        self.templates: dict[str, dict[str, Any]] = {}
        for i, raw in enumerate(spec.get("templates", [])):
            merged = _merge(defaults, raw)
            check_template(merged, f"templates[{raw.get('name', i)}]")
            if merged["name"] in self.templates:
                raise ExpressionError(f"two templates named {merged['name']!r}")
            self.templates[merged["name"]] = merged
        self.volumes = {}
        for i, v in enumerate(spec.get("volumes", [])):
            check_volume(v, f"spec.volumes[{i}]")
            self.volumes[v["name"]] = v
        self.scope = {
            "workflow.name": self.name,
            "workflow.uid": self.uid,
            "workflow.namespace": "default",
            "workflow.creationTimestamp": datetime.datetime.now(datetime.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            **{f"workflow.parameters.{k}": str(v) for k, v in arguments.items()},
        }
        parallelism = spec.get("parallelism")
        self.slots = threading.BoundedSemaphore(int(parallelism)) if parallelism else None
        deadline = spec.get("activeDeadlineSeconds")
        self.deadline = None if deadline is None else time.monotonic() + float(deadline)
        self.nodes: list[Node] = []
        self.lock = threading.Lock()
        self.errors: list[BaseException] = []  # the executor's own (raised after the run)

    @staticmethod
    def _parameters(arguments: Any, where: str) -> dict[str, str | None]:
        if not arguments:
            return {}
        check("arguments", arguments, where)
        out: dict[str, str | None] = {}
        for p in arguments.get("parameters", []):
            check("parameter", p, where)
            if "valueFrom" in p:
                raise Refused(f"{where}: valueFrom in a workflow argument")
            value = p.get("value", p.get("default"))
            out[p["name"]] = None if value is None else str(value)
        return out

    # -- the workflow ---------------------------------------------------------------------

    def run(self) -> WorkflowResult:
        entry = self.spec.get("entrypoint")
        if entry not in self.templates:
            raise ExpressionError(f"entrypoint {entry!r} is not a template")
        root = self.template_node(entry, {}, self.name, dict(self.scope))
        phase = (
            "Succeeded"
            if root.phase == "Succeeded"
            else ("Error" if root.phase == "Error" else "Failed")
        )
        exit_node = None
        if self.spec.get("onExit"):
            self.deadline = None  # the exit handler runs after a workflow deadline, too
            scope = {**self.scope, "workflow.status": phase}
            exit_node = self.template_node(self.spec["onExit"], {}, f"{self.name}.onExit", scope)
            if exit_node.phase in FAILED and phase == "Succeeded":
                phase = "Failed"
        return WorkflowResult(self.name, self.uid, phase, root, exit_node, list(self.nodes))

    def add(self, node: Node) -> Node:
        with self.lock:
            self.nodes.append(node)
        return node

    def template_node(
        self, name: str, args: Mapping[str, str], node_name: str, scope: dict[str, str]
    ) -> Node:
        template = self.templates.get(name)
        if template is None:
            raise ExpressionError(f"{node_name}: no template named {name!r}")
        kind = "DAG" if "dag" in template else "Pod"
        node = self.add(Node(node_name, name, kind, "Running"))
        local = {k: v for k, v in scope.items() if k.startswith("workflow.")}
        for p in template.get("inputs", {}).get("parameters", []):
            value = args.get(p["name"], p.get("value", p.get("default")))
            if value is None:
                node.phase, node.message = "Error", f"input parameter {p['name']!r} has no value"
                return node
            local[f"inputs.parameters.{p['name']}"] = str(value)
        unknown = set(args) - {p["name"] for p in template.get("inputs", {}).get("parameters", [])}
        if unknown:
            raise ExpressionError(
                f"{node_name}: arguments {sorted(unknown)} are not inputs of {name}"
            )
        if kind == "DAG" and "retryStrategy" in template:
            self.run_dag_retrying(template, node, local)
        elif kind == "DAG":
            self.run_dag(template, node, local)
        else:
            self.run_pod(template, node, local)
        return node

    # -- DAGs -------------------------------------------------------------------------------

    def run_dag_retrying(
        self, template: Mapping[str, Any], node: Node, scope: dict[str, str]
    ) -> None:
        """A DAG template with a ``retryStrategy``: each attempt is a child DAG node
        (``name(n)``, as Argo names them) running every task again, with
        ``{{retries}}`` = n in the template (e.g. in its tasks' arguments)."""

        def attempt(n: int) -> str:
            child = self.add(Node(f"{node.name}({n})", node.template, "DAG", "Running"))
            node.children.append(child)
            self.run_dag(template, child, {**scope, "retries": str(n)})
            node.outputs = dict(child.outputs)
            return child.phase

        self.retrying(template, node, attempt)

    def run_dag(self, template: Mapping[str, Any], node: Node, scope: dict[str, str]) -> None:
        tasks = {t["name"]: t for t in template["dag"].get("tasks", [])}
        fail_fast = template["dag"].get("failFast", True)
        deps = {
            n: depends_tasks(t["depends"]) if t.get("depends") else set() for n, t in tasks.items()
        }
        for n, d in deps.items():
            if d - set(tasks):
                raise ExpressionError(
                    f"{node.name}: task {n} depends on unknown {sorted(d - set(tasks))}"
                )
        handled = set()  # tasks whose failure another task's depends expects
        for t in tasks.values():
            for m in re.finditer(
                r"([A-Za-z0-9_-]+)\.(Failed|Errored|Completed|AllFailed)", t.get("depends", "")
            ):
                handled.add(m.group(1))
        done: dict[str, Node] = {}
        started: set[str] = set()
        cond = threading.Condition()
        stopped = False

        def result(task: str, which: str) -> bool:
            n = done[task]
            phases = {c.phase for c in n.children} if n.type == "TaskGroup" else {n.phase}
            return {
                "Succeeded": n.phase == "Succeeded",
                "Failed": n.phase == "Failed",
                "Errored": n.phase == "Error",
                "Skipped": n.phase == "Skipped",
                "Omitted": n.phase == "Omitted",
                "Daemoned": False,
                "Completed": n.phase in ("Succeeded", "Failed"),
                "AnySucceeded": "Succeeded" in phases,
                "AllFailed": bool(phases) and phases <= FAILED,
            }[which]

        def finish(task: str, result_node: Node) -> None:
            nonlocal stopped
            with cond:
                done[task] = result_node
                if result_node.phase in FAILED and fail_fast and task not in handled:
                    stopped = True
                cond.notify_all()

        def launch(task: Mapping[str, Any]) -> None:
            try:
                with cond:
                    tscope = dict(scope)
                    tscope[_DAG_TASKS] = " ".join(tasks)
                    for tname, tnode in done.items():
                        tscope[f"tasks.{tname}.status"] = tnode.phase
                        for k, v in tnode.outputs.items():
                            tscope[f"tasks.{tname}.outputs.parameters.{k}"] = v
                result_node = self.run_task(task, node, tscope)
            except BaseException as err:  # an executor error: the node errs, the run goes on
                result_node = self.add(
                    Node(
                        f"{node.name}.{task['name']}",
                        task["template"],
                        "Pod",
                        "Error",
                        message=repr(err),
                    )
                )
                self.errors.append(err)
            finish(task["name"], result_node)

        threads = []
        with cond:
            while True:
                progressed = False
                for tname, task in tasks.items():
                    if tname in started or not deps[tname] <= set(done):
                        continue
                    if stopped:
                        continue
                    started.add(tname)
                    progressed = True
                    if task.get("depends") and not eval_depends(task["depends"], result):
                        done[tname] = self.add(
                            Node(f"{node.name}.{tname}", task["template"], "Omitted", "Omitted")
                        )
                        continue
                    th = threading.Thread(target=launch, args=(task,), daemon=True)
                    threads.append(th)
                    th.start()
                if progressed:
                    continue
                running = started - set(done)
                if not running:
                    break
                cond.wait()
        for th in threads:
            th.join()
        if set(tasks) - started and not stopped:
            raise ExpressionError(
                f"{node.name}: tasks {sorted(set(tasks) - started)} never became ready (a cycle?)"
            )
        failed = [n for n, r in done.items() if r.phase in FAILED and n not in handled]
        node.phase = "Failed" if failed or stopped else "Succeeded"
        if failed:
            node.message = f"failed: {', '.join(sorted(failed))}"
        outputs_scope = dict(scope)
        for tname, tnode in done.items():
            for k, v in tnode.outputs.items():
                outputs_scope[f"tasks.{tname}.outputs.parameters.{k}"] = v
        if node.phase == "Succeeded":
            for p in template.get("outputs", {}).get("parameters", []):
                vf = p.get("valueFrom", {})
                if "parameter" not in vf:
                    raise Refused(f"{node.name}: a DAG output needs valueFrom.parameter")
                node.outputs[p["name"]] = substitute(
                    vf["parameter"], outputs_scope, lenient=lambda r: False
                )

    def run_task(self, task: Mapping[str, Any], parent: Node, scope: dict[str, str]) -> Node:
        name = f"{parent.name}.{task['name']}"
        lenient = self._lenient(scope)
        if "when" in task:
            expr = substitute(task["when"], scope, lenient=lenient)
            if not eval_when(expr):
                return self.add(
                    Node(
                        name, task["template"], "Skipped", "Skipped", message=f"when {expr!r} false"
                    )
                )
        items = self._items(task, scope)
        if items is None:
            return self.template_node(task["template"], self._args(task, scope), name, scope)
        group = self.add(Node(name, task["template"], "TaskGroup", "Running"))
        if not items:
            group.phase = "Skipped"
            group.message = "no items"
            return group
        children: list[Node | None] = [None] * len(items)

        def child(i: int, item: Any) -> None:
            iscope = dict(scope)
            if isinstance(item, Mapping):
                iscope["item"] = json.dumps(item, separators=(",", ":"))
                for k, v in item.items():
                    iscope[f"item.{k}"] = v if isinstance(v, str) else json.dumps(v)
            else:
                iscope["item"] = item if isinstance(item, str) else json.dumps(item)
            label = iscope["item"]
            children[i] = self.template_node(
                task["template"], self._args(task, iscope), f"{name}({i}:{label})", iscope
            )

        threads = [
            threading.Thread(target=child, args=(i, it), daemon=True) for i, it in enumerate(items)
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        group.children = [c for c in children if c is not None]
        if len(group.children) != len(items):
            group.phase = "Error"
        else:
            group.phase = (
                "Failed" if any(c.phase in FAILED for c in group.children) else "Succeeded"
            )
        if group.phase == "Succeeded" and group.children and all(c.outputs for c in group.children):
            keys = group.children[0].outputs.keys()
            group.outputs = {
                k: json.dumps([c.outputs.get(k) for c in group.children]) for k in keys
            }
        return group

    @staticmethod
    def _lenient(scope: Mapping[str, str]) -> Callable[[str], bool]:
        """Outputs of a task of this DAG that did not run (or gave none) stay unresolved
        text, as in Argo; any other unknown reference is an error."""
        names = set(scope.get(_DAG_TASKS, "").split())

        def lenient(ref: str) -> bool:
            m = re.fullmatch(r"tasks\.([\w-]+)\.outputs\.parameters\.[\w-]+", ref)
            return bool(m) and m.group(1) in names

        return lenient

    def _args(self, task: Mapping[str, Any], scope: Mapping[str, str]) -> dict[str, str]:
        out = {}
        for p in task.get("arguments", {}).get("parameters", []):
            out[p["name"]] = substitute(
                str(p.get("value", "")), scope, lenient=self._lenient(scope)
            )
        return out

    def _items(self, task: Mapping[str, Any], scope: Mapping[str, str]) -> list[Any] | None:
        kinds = [k for k in ("withParam", "withItems", "withSequence") if k in task]
        if len(kinds) > 1:
            raise Refused(f"task {task['name']}: more than one of {kinds}")
        if not kinds:
            return None
        strict: Callable[[str], bool] = lambda r: False  # noqa: E731
        if "withParam" in task:
            text = substitute(task["withParam"], scope, lenient=strict)
            items = json.loads(text)
            if not isinstance(items, list):
                raise ExpressionError(f"withParam of {task['name']} is not a JSON list: {text!r}")
            return items
        if "withItems" in task:
            return list(task["withItems"])
        seq = task["withSequence"]
        values = {k: int(substitute(str(v), scope, lenient=strict)) for k, v in seq.items()}
        if "count" in values:
            if "end" in values:
                raise Refused(f"withSequence of {task['name']}: count and end")
            start = values.get("start", 0)
            return [str(i) for i in range(start, start + values["count"])]
        start, end = values.get("start", 0), values.get("end", 0)
        step = 1 if end >= start else -1
        return [str(i) for i in range(start, end + step, step)]


def run_workflow(
    template: Mapping[str, Any], workflow: Mapping[str, Any] | None = None, **options: Any
) -> WorkflowResult:
    """Run ``template`` (a WorkflowTemplate, or a Workflow with its own templates),
    as the ``workflow`` submitted from it (``workflowTemplateRef`` + ``arguments``)
    would run on a cluster; the node statuses and the workflow's phase.

    Options: ``env`` (added to each container's environment), ``cwd``, ``python``
    (what ``python`` in a command runs), ``time_scale`` (multiplies retry backoffs),
    ``logs_dir``. Raises :class:`Refused` for a field it does not implement."""
    executor = Executor(template, workflow, **options)
    result = executor.run()
    if executor.errors:
        raise executor.errors[0]
    return result
