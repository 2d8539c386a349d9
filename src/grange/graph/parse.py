"""Build a :class:`FlowGraph` from a flow class by reading its source.

Steps are found on the class and its bases (inheritance works); each step's
shape comes from the AST of its ``def``: the number of arguments, the
docstring, the decorators as written, and the last statement, which must be
``self.next(...)`` (except in the end step). No user code is run.
"""

from __future__ import annotations

import ast
import inspect
import os
from functools import lru_cache
from typing import Any

from grange.decorators.base import PENDING, decorators_of, problems_of
from grange.decorators.step import is_step
from grange.graph.flow_decorators import read_flow_decorators
from grange.graph.model import DecoratorInfo, FlowGraph, NodeType, ParameterInfo, StepNode
from grange.graph.structure import annotate
from grange.parameters import Parameter, flow_parameters

START, END = "start", "end"


def parse_flow_class(flow_cls: type) -> FlowGraph:
    """Read the graph of ``flow_cls`` (and its base flows) from source."""
    file, line = _class_location(flow_cls)
    nodes: dict[str, StepNode] = {}
    others: list[str] = []
    configs: list[str] = []
    problems: list[tuple[str, str, str, int | None, str | None, str]] = []
    for attr in dir(flow_cls):
        if attr.startswith("__"):
            _dunder_step(flow_cls, attr, problems)
            continue
        obj = inspect.getattr_static(flow_cls, attr, None)
        if getattr(type(obj), "_grange_config", False) is True:
            configs.append(attr)
            continue
        func = obj.__func__ if isinstance(obj, (staticmethod, classmethod)) else obj
        if not inspect.isfunction(func):
            continue
        if is_step(func):
            node = _parse_step(func, attr, problems)
            if node is not None:
                nodes[attr] = node
        else:
            others.append(attr)
            for deco in getattr(func, PENDING, ()):
                problems.append(
                    (
                        "decorator-without-step",
                        f"'{attr}' has @{deco.name} but no @step, so it is not a step",
                        *_func_location(func),
                        attr,
                        f"add @step directly above 'def {attr}', below @{deco.name}",
                    )
                )
    ordered = dict(sorted(nodes.items(), key=lambda kv: (kv[1].file, kv[1].line)))
    for node in ordered.values():
        for target in node.out_funcs:
            if target in ordered and node.name not in ordered[target].in_funcs:
                ordered[target].in_funcs += (node.name,)
    graph = FlowGraph(
        name=flow_cls.__name__,
        file=file,
        line=line,
        doc=inspect.getdoc(flow_cls) if flow_cls.__doc__ else None,
        nodes=ordered,
        parameters=tuple(_parameter_info(flow_cls, problems)),
        other_methods=tuple(sorted(others)),
        decorators=read_flow_decorators(flow_cls, problems),
        definition_problems=problems,
        config_attributes=tuple(configs),
    )
    annotate(graph)
    return graph


def _dunder_step(flow_cls: type, attr: str, problems: list[Any]) -> None:
    """Note a ``@step`` on a special method (``__call__``): it can be no step."""
    func = inspect.getattr_static(flow_cls, attr, None)
    if inspect.isfunction(func) and is_step(func):
        problems.append(
            (
                "step-name",
                f"'{attr}' has @step, but a name starting with '__' is Python's own "
                "(a special method), so it cannot be a step",
                *_func_location(func),
                attr,
                f"rename it, e.g. 'def {attr.strip('_') or 'my_step'}(self)', and update the "
                "self.next(...) calls that go to it",
            )
        )


def _parameter_info(flow_cls: type, problems: list[Any]) -> list[ParameterInfo]:
    """Parameters of the flow, each located at its assignment in the class body."""
    where: dict[str, tuple[str, int]] = {}
    for klass in reversed(flow_cls.__mro__):
        params = [
            a
            for a, v in vars(klass).items()
            if isinstance(v, Parameter) and not v.__dict__.get("_grange_config_copy")
        ]
        if not params and not any(is_step(v) for v in vars(klass).values()):
            continue
        file, line = _class_location(klass)
        cdef = _find_class(file, klass.__name__, line)
        assigned = _parameter_assignments(cdef)
        where.update((a, (file, assigned.get(a, line))) for a in params)
        if cdef is not None:
            _shadowed_parameters(cdef, file, assigned, problems)
    infos = []
    for p in flow_parameters(flow_cls):
        attribute = p.attribute or p.name
        file, line = where.get(attribute, ("", 0))
        infos.append(
            ParameterInfo(
                name=p.name,
                attribute=attribute,
                type=p.type_name,
                default=p.default,
                required=p.required,
                help=p.help,
                is_file=p.is_file,
                file=file or None,
                line=line or None,
                definition_problems=tuple(p.definition_problems()),
            )
        )
    return infos


def _parameter_assignments(cdef: ast.ClassDef | None) -> dict[str, int]:
    """``attribute -> line`` of each ``attribute = Parameter(...)`` in a class body."""
    found: dict[str, int] = {}
    for stmt in cdef.body if cdef else ():
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        else:
            continue
        if not (isinstance(value, ast.Call) and _decorator_name(value).endswith(_PARAMETER_CALLS)):
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                found.setdefault(target.id, stmt.lineno)
    return found


_PARAMETER_CALLS = ("Parameter", "IncludeFile")


def _shadowed_parameters(
    cdef: ast.ClassDef, file: str, assigned: dict[str, int], problems: list[Any]
) -> None:
    """Note a parameter and a step of the same name in one class body: one replaces the other."""
    for stmt in cdef.body:
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if stmt.name not in assigned or "step" not in map(_decorator_name, stmt.decorator_list):
            continue
        name, line = stmt.name, assigned[stmt.name]
        problems.append(
            (
                "parameter-step-clash",
                f"'{name}' is defined twice in class {cdef.name}: as a parameter (line {line}) "
                f"and as a step (line {stmt.lineno}); the later definition silently replaces "
                "the earlier one",
                file,
                line,
                name,
                f"rename the parameter's attribute, e.g. {name}_value = Parameter(...); the "
                "name given to Parameter (the command-line option) can stay as it is",
            )
        )


def _find_class(file: str, name: str, line: int) -> ast.ClassDef | None:
    try:
        tree = _module_tree(file, os.path.getmtime(file))
    except OSError:
        return None
    for node in ast.walk(tree) if tree else ():
        if (
            isinstance(node, ast.ClassDef)
            and node.name == name
            and line in (node.lineno, *(d.lineno for d in node.decorator_list))
        ):
            return node
    return None


def _class_location(flow_cls: type) -> tuple[str, int]:
    try:
        file = inspect.getsourcefile(flow_cls) or "<unknown>"
    except TypeError:
        file = "<unknown>"
    try:
        line = inspect.getsourcelines(flow_cls)[1]
    except (OSError, TypeError):
        line = 0
    return os.path.abspath(file) if file != "<unknown>" else file, line


def _func_location(func: Any) -> tuple[str, int]:
    code = inspect.unwrap(func).__code__
    return os.path.abspath(code.co_filename), code.co_firstlineno


@lru_cache(maxsize=64)
def _module_tree(file: str, mtime: float) -> ast.Module | None:
    try:
        with open(file, encoding="utf-8") as fh:
            return ast.parse(fh.read(), filename=file)
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


def _find_def(
    file: str, name: str, first_line: int
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    try:
        tree = _module_tree(file, os.path.getmtime(file))
    except OSError:
        return None
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if start == first_line:
                return node
    return None


def _parse_step(func: Any, attr: str, problems: list[Any]) -> StepNode | None:
    file, first_line = _func_location(func)
    fdef = _find_def(file, inspect.unwrap(func).__name__, first_line)
    if fdef is None:
        problems.append(
            (
                "no-source",
                f"the source of step '{attr}' cannot be read, so its transitions are unknown",
                file,
                first_line,
                attr,
                "define flows in a .py file (not in an interactive session or with exec)",
            )
        )
        return None
    decorators = _decorators(func, fdef, attr, file, problems)
    node = StepNode(
        name=attr,
        type=NodeType.LINEAR,
        file=file,
        line=fdef.lineno,
        doc=ast.get_docstring(fdef),
        decorators=decorators,
        num_args=len(fdef.args.posonlyargs) + len(fdef.args.args),
        defined_in=getattr(func, "__qualname__", attr).rsplit(".", 1)[0],
    )
    _read_transition(node, fdef)
    node.type = _node_type(node)
    return node


def _decorator_name(expr: ast.expr) -> str:
    target = expr.func if isinstance(expr, ast.Call) else expr
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return ast.unparse(target)


def _decorators(
    func: Any,
    fdef: ast.FunctionDef | ast.AsyncFunctionDef,
    attr: str,
    file: str,
    problems: list[Any],
) -> tuple[DecoratorInfo, ...]:
    written = [(_decorator_name(d), d.lineno) for d in fdef.decorator_list]
    lines: dict[str, int] = {}
    for name, lineno in written:
        lines.setdefault(name, lineno)
    attached: dict[str, list[Any]] = {}
    for one in decorators_of(func):  # several of one name (@card) pair up in order
        attached.setdefault(one.name, []).append(one)
    infos = []
    for name, lineno in written:
        if name == "step":
            continue
        same = attached.get(name)
        deco = same.pop(0) if same else None
        infos.append(
            DecoratorInfo(name=name, attributes=dict(deco.attributes) if deco else {}, line=lineno)
        )
    for prob in problems_of(func):
        problems.append(
            (
                "decorator",
                prob.message,
                file,
                lines.get(prob.decorator, fdef.lineno),
                attr,
                prob.fix,
            )
        )
    return tuple(infos)


def _is_self_next(stmt: ast.stmt) -> ast.Call | None:
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        fn = stmt.value.func
        if (
            isinstance(fn, ast.Attribute)
            and fn.attr == "next"
            and isinstance(fn.value, ast.Name)
            and fn.value.id == "self"
        ):
            return stmt.value
    return None


def _self_attr(expr: ast.expr) -> str | None:
    if (
        isinstance(expr, ast.Attribute)
        and isinstance(expr.value, ast.Name)
        and expr.value.id == "self"
    ):
        return expr.attr
    return None


_BLOCKS = {
    "If": "if", "For": "for", "AsyncFor": "for", "While": "while", "Try": "try",
    "TryStar": "try", "With": "with", "AsyncWith": "with", "Match": "match",
}  # fmt: skip


def _read_transition(node: StepNode, fdef: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    call = _is_self_next(fdef.body[-1])
    if call is not None:
        node.has_next = True
        node.next_line = call.lineno
        earlier = [
            n.lineno
            for stmt in fdef.body[:-1]
            for n in ast.walk(stmt)
            if isinstance(n, ast.Call) and _is_self_next(ast.Expr(n))
        ]
        if earlier:
            # Two transitions: the graph would follow only the last one and call
            # the other's target an orphan; say what is really wrong.
            node.misplaced_next = "twice"
            node.next_lines = (*earlier, call.lineno)
            node.next_line = earlier[0]
            node.transition_problem = "self.next() is called more than once"
            return
        node.transition_problem = _parse_next_call(node, call)
        return
    for stmt in fdef.body:
        calls = [
            n for n in ast.walk(stmt) if isinstance(n, ast.Call) and _is_self_next(ast.Expr(n))
        ]
        if not calls:
            continue
        node.has_next = True
        node.next_line = min(c.lineno for c in calls)
        if _is_self_next(stmt):
            node.misplaced_next = "early"
        else:
            node.misplaced_next = _BLOCKS.get(type(stmt).__name__, "expression")
        node.transition_problem = "self.next() must be the last statement of the step"
        return


def _parse_next_call(node: StepNode, call: ast.Call) -> str | None:
    keywords = {}
    for kw in call.keywords:
        if kw.arg is None:
            return "self.next() cannot take **kwargs; write foreach='attr' or condition='attr'"
        if kw.arg == "num_parallel":
            problem = _read_num_parallel(node, kw.value)
            if problem:
                return problem
            continue
        if kw.arg not in ("foreach", "condition"):
            return f"self.next() got an unknown keyword '{kw.arg}'"
        if not (isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)):
            return f"{kw.arg}= must be a string literal naming an attribute, e.g. {kw.arg}='items'"
        keywords[kw.arg] = kw.value.value
    if any(isinstance(a, ast.Starred) for a in call.args):
        return "self.next() cannot take *args; list the steps, e.g. self.next(self.a, self.b)"
    if node.num_parallel is not None and keywords:
        return f"num_parallel= cannot be combined with {next(iter(keywords))}="
    if len(call.args) == 1 and isinstance(call.args[0], ast.Dict):
        return _parse_switch(node, call.args[0], keywords)
    if "condition" in keywords:
        return "condition= needs a dict of cases: self.next({'a': self.a, 'b': self.b}, condition='attr')"
    if not call.args:
        return "self.next() names no step"
    targets = []
    for arg in call.args:
        name = _self_attr(arg)
        if name is None:
            return f"'{ast.unparse(arg)}' is not a step: steps are passed as self.<step>"
        targets.append(name)
    if "foreach" in keywords:
        if len(targets) != 1:
            return "a foreach goes to exactly one step"
        node.foreach_var = keywords["foreach"]
    if node.num_parallel is not None and len(targets) != 1:
        return "num_parallel= goes to exactly one @parallel step"
    node.out_funcs = tuple(targets)
    return None


def _read_num_parallel(node: StepNode, value: ast.expr) -> str | None:
    """``num_parallel=``: an int literal (at least 1) or an expression read at run time."""
    if isinstance(value, ast.Constant):
        if not isinstance(value.value, int) or isinstance(value.value, bool) or value.value < 1:
            return f"num_parallel={value.value!r} must be a whole number of at least 1"
        node.num_parallel = value.value
    else:
        node.num_parallel = ast.unparse(value)
    return None


def _parse_switch(node: StepNode, cases: ast.Dict, keywords: dict[str, str]) -> str | None:
    if "foreach" in keywords:
        return "a switch cannot also be a foreach: use condition= or foreach=, not both"
    node.switch_condition = keywords.get("condition")
    parsed: dict[Any, str] = {}
    for key, value in zip(cases.keys, cases.values, strict=True):
        if key is None:
            return "a switch's cases cannot use **; write each case as 'key': self.step"
        if not (isinstance(key, ast.Constant) and isinstance(key.value, (str, int, bool))):
            return f"switch case key '{ast.unparse(key)}' is not a literal; use a string or number"
        target = _self_attr(value)
        if target is None:
            return f"switch case {key.value!r} goes to '{ast.unparse(value)}', which is not self.<step>"
        parsed[key.value] = target
    node.switch_cases = parsed
    node.out_funcs = tuple(dict.fromkeys(parsed.values()))
    return None


def _node_type(node: StepNode) -> NodeType:
    if node.name == END:
        return NodeType.END
    if node.num_args == 2:
        return NodeType.JOIN
    if node.switch_condition is not None or node.switch_cases:
        return NodeType.SPLIT_SWITCH
    if node.foreach_var is not None:
        return NodeType.SPLIT_FOREACH
    if node.num_parallel is not None:
        return NodeType.SPLIT_PARALLEL
    if len(node.out_funcs) > 1:
        return NodeType.SPLIT_STATIC
    if node.name == START:
        return NodeType.START
    return NodeType.LINEAR
