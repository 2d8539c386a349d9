"""A semantic lint of a compiled WorkflowTemplate: what Argo's schema cannot check.

It runs on every compile, before anything is printed or submitted, so a
manifest that Argo would reject (or run wrongly) never leaves grange. The rules
follow Argo's ``workflow/validate/validate.go``:

- names: the template's is an RFC 1123 subdomain within its limit; template,
  task and parameter names are unique where they must be and well formed;
- every template has exactly one type; ``parallelism`` only on dag/steps
  templates, ``activeDeadlineSeconds`` only on leaf (container) templates;
- the entrypoint, onExit and every task's template exist;
- DAGs use ``depends`` (never ``dependencies``), naming tasks of the same DAG
  that do not start with a digit, without cycles; ``when`` expressions that
  compare quoted values with ``==``/``!=`` joined by ``||``/``&&``; at most one of
  ``withItems``/``withParam``/``withSequence`` per task;
- every ``{{...}}`` reference resolves: ``inputs.parameters.X`` to an input of
  its template, ``tasks.T.outputs.parameters.Y`` / ``tasks.T.status`` to a task
  that runs before (an ancestor through ``depends``) whose template declares Y,
  ``workflow.parameters.X`` to an argument, ``item`` only under a loop,
  ``retries`` only in a template with a retryStrategy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from grange.deploy.argo import naming
from grange.exceptions import CompileError
from grange.graph.model import FlowGraph

_TYPES = (
    "container",
    "dag",
    "steps",
    "script",
    "resource",
    "suspend",
    "data",
    "http",
    "plugin",
    "containerSet",
)
_REF = re.compile(r"{{\s*([^{}]*?)\s*}}")
_WORKFLOW_VARS = {
    "workflow.name",
    "workflow.uid",
    "workflow.status",
    "workflow.namespace",
    "workflow.creationTimestamp",
    "workflow.failures",
    "workflow.duration",
}
_DEPENDS_TOKEN = re.compile(
    r"([A-Za-z0-9][-A-Za-z0-9]*)\.(Succeeded|Failed|Errored|Skipped|"
    r"Omitted|Daemoned|Completed|AnySucceeded|AllFailed)"
)
_DEPENDS_REST = re.compile(r"^[\s()&|!]*$")
# A when expression as grange writes them: quoted strings compared with == or !=,
# joined by || and && (checked with every {{...}} replaced by a plain word).
_WHEN = re.compile(
    r"^\s*'[^']*'\s*(==|!=)\s*'[^']*'\s*((\|\||&&)\s*'[^']*'\s*(==|!=)\s*'[^']*'\s*)*$"
)


def lint(doc: dict[str, Any], graph: FlowGraph) -> None:
    """Raise :class:`CompileError` on the first broken rule of ``doc``."""
    _Linter(doc, graph).run()


class _Linter:
    def __init__(self, doc: dict[str, Any], graph: FlowGraph) -> None:
        self.doc = doc
        self.graph = graph
        self.spec = doc.get("spec", {})
        self.templates: dict[str, dict[str, Any]] = {}
        by_template = {naming.step_template(n.name): n for n in graph}
        self.steps = by_template

    def fail(self, message: str, template: str | None = None, fix: str | None = None) -> None:
        node = self.steps.get(template or "")
        raise CompileError(
            f"the compiled WorkflowTemplate is invalid: {message}",
            file=node.file if node else self.graph.file,
            line=node.line if node else self.graph.line,
            step=node.name if node else None,
            fix=fix
            or "this is a bug in grange's Argo compiler: please report it with the flow file",
        )

    def run(self) -> None:
        name = self.doc.get("metadata", {}).get("name", "")
        if not naming.is_object_name(name, naming.MAX_NAME):
            self.fail(
                f"name {name!r} is not an RFC 1123 name of at most {naming.MAX_NAME} characters",
                fix="pass a valid --name",
            )
        for template in self.spec.get("templates", []):
            tname = template.get("name", "")
            if tname in self.templates:
                self.fail(f"two templates are named '{tname}'", tname, fix=self._rename(tname))
            if not naming.is_field_name(tname):
                self.fail(f"template name {tname!r} is not valid", tname)
            self.templates[tname] = template
        for ref, what in (
            (self.spec.get("entrypoint"), "entrypoint"),
            (self.spec.get("onExit"), "onExit"),
        ):
            if ref is not None and ref not in self.templates:
                self.fail(f"{what} '{ref}' names no template")
        arguments = {p["name"] for p in self.spec.get("arguments", {}).get("parameters", [])}
        for template in self.templates.values():
            self._template(template, arguments)

    def _rename(self, tname: str) -> str:
        node = self.steps.get(tname)
        if node is None:
            return "rename the step whose name clashes with a name the compiler makes"
        return (
            f"rename step '{node.name}': its Argo name '{tname}' is also the name of a "
            "template the compiler makes (the flow, a foreach's '-foreach', '-batch', "
            "'-body' or '-item', a gang's '-gang' or '-node', or 'argo-finish')"
        )

    def _template(self, template: dict[str, Any], arguments: set[str]) -> None:
        tname = template["name"]
        kinds = [k for k in _TYPES if k in template]
        if len(kinds) != 1:
            self.fail(f"template '{tname}' has {len(kinds)} types ({kinds}), not one", tname)
        if "parallelism" in template and kinds[0] not in ("dag", "steps"):
            self.fail(f"template '{tname}' sets parallelism, allowed on dag templates only", tname)
        if "activeDeadlineSeconds" in template and kinds[0] in ("dag", "steps"):
            self.fail(
                f"template '{tname}' sets activeDeadlineSeconds, allowed on leaf templates only",
                tname,
            )
        inputs = {p["name"] for p in template.get("inputs", {}).get("parameters", [])}
        scope = _Scope(inputs=inputs, arguments=arguments, retries="retryStrategy" in template)
        if "dag" in template:
            self._dag(template, scope)
            skip = {"dag"}
        else:
            skip = set()
        for text in _strings({k: v for k, v in template.items() if k not in skip}):
            self._refs(text, scope, tname, loop=False)

    def _dag(self, template: dict[str, Any], scope: _Scope) -> None:
        tname = template["name"]
        tasks = template["dag"].get("tasks", [])
        names = [t["name"] for t in tasks]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            self.fail(f"DAG '{tname}' has two tasks named '{dup}'", dup, fix=self._rename(dup))
        by_name = {t["name"]: t for t in tasks}
        parents: dict[str, set[str]] = {}
        for task in tasks:
            name = task["name"]
            if not naming.is_field_name(name) or name[0].isdigit():
                self.fail(f"task name {name!r} in DAG '{tname}' is not valid", name)
            if "dependencies" in task or "continueOn" in task:
                self.fail(f"task '{name}' uses dependencies/continueOn: grange uses depends", name)
            if task.get("template") not in self.templates:
                self.fail(
                    f"task '{name}' calls template '{task.get('template')}', which does not exist",
                    name,
                )
            loops = [k for k in ("withItems", "withParam", "withSequence") if k in task]
            if len(loops) > 1:
                self.fail(f"task '{name}' sets {loops}: at most one is allowed", name)
            parents[name] = self._depends(task.get("depends") or "", by_name, name)
            if "when" in task and not _WHEN.match(_REF.sub("x", task["when"])):
                self.fail(
                    f"task '{name}' has a when expression Argo cannot read: {task['when']!r}", name
                )
        self._acyclic(parents, tname)
        for task in tasks:
            ancestors = _ancestors(task["name"], parents)
            loop = any(k in task for k in ("withItems", "withParam", "withSequence"))
            callee = self.templates[task["template"]]
            wanted = {
                p["name"]
                for p in callee.get("inputs", {}).get("parameters", [])
                if "value" not in p
            }
            given = {p["name"] for p in task.get("arguments", {}).get("parameters", [])}
            if wanted - given:
                self.fail(
                    f"task '{task['name']}' does not give input(s) "
                    f"{sorted(wanted - given)} of template '{task['template']}'",
                    task["name"],
                )
            for text in _strings({k: v for k, v in task.items() if k != "name"}):
                self._refs(text, scope, task["name"], loop=loop, ancestors=ancestors, tasks=by_name)

    def _depends(self, depends: str, tasks: dict[str, Any], name: str) -> set[str]:
        found = set(_DEPENDS_TOKEN.findall(depends))
        rest = _DEPENDS_TOKEN.sub("", depends)
        if not _DEPENDS_REST.match(rest):
            self.fail(f"task '{name}' has a depends expression Argo cannot read: {depends!r}", name)
        if depends.count("(") != depends.count(")"):
            self.fail(f"task '{name}' has unbalanced parentheses in depends: {depends!r}", name)
        out = set()
        for dep, _ in found:
            if dep not in tasks:
                self.fail(f"task '{name}' depends on '{dep}', which is not a task of its DAG", name)
            out.add(dep)
        return out

    def _acyclic(self, parents: dict[str, set[str]], tname: str) -> None:
        done: set[str] = set()
        for start in parents:
            path: list[str] = []
            stack = [(start, iter(sorted(parents[start])))]
            on_path = {start}
            path.append(start)
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    stack.pop()
                    on_path.discard(node)
                    path.pop()
                    done.add(node)
                    continue
                if nxt in on_path:
                    self.fail(f"DAG '{tname}' has a cycle through task '{nxt}'", nxt)
                if nxt not in done:
                    on_path.add(nxt)
                    path.append(nxt)
                    stack.append((nxt, iter(sorted(parents[nxt]))))

    def _refs(
        self,
        text: str,
        scope: _Scope,
        where: str,
        *,
        loop: bool,
        ancestors: set[str] | None = None,
        tasks: dict[str, Any] | None = None,
    ) -> None:
        for ref in _REF.findall(text):
            if ref in _WORKFLOW_VARS:
                continue
            parts = ref.split(".")
            if ref == "retries":
                ok = scope.retries
            elif parts[0] == "item":
                ok = loop
            elif parts[:2] == ["inputs", "parameters"] and len(parts) == 3:
                ok = parts[2] in scope.inputs
            elif parts[:2] == ["workflow", "parameters"] and len(parts) == 3:
                ok = parts[2] in scope.arguments
            elif parts[0] == "tasks" and tasks is not None and ancestors is not None:
                ok = self._task_ref(parts, ancestors, tasks)
            else:
                ok = False
            if not ok:
                self.fail(f"'{{{{{ref}}}}}' in '{where}' cannot be resolved there", where)

    def _task_ref(self, parts: list[str], ancestors: set[str], tasks: dict[str, Any]) -> bool:
        if len(parts) < 3 or parts[1] not in ancestors:
            return False
        if parts[2:] == ["status"]:
            return True
        if parts[2:4] == ["outputs", "parameters"] and len(parts) == 5:
            callee = self.templates.get(tasks[parts[1]].get("template", ""), {})
            declared = {p["name"] for p in callee.get("outputs", {}).get("parameters", [])}
            return parts[4] in declared
        return False


class _Scope:
    def __init__(self, *, inputs: set[str], arguments: set[str], retries: bool) -> None:
        self.inputs = inputs
        self.arguments = arguments
        self.retries = retries


def _ancestors(name: str, parents: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(parents.get(name, ()))
    while todo:
        cur = todo.pop()
        if cur not in seen:
            seen.add(cur)
            todo.extend(parents.get(cur, ()))
    return seen


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
