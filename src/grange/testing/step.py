"""``run_step``: run one step of a flow alone, on inputs the test gives, for unit tests.

The step runs through the task executor a real run uses (``run_task``), in a
store of its own (a temporary folder): the parents' records are written there
first, made of the test's ``inputs`` (as if a parent step had set them), with the
run's parameters (``params=`` over the defaults, as ``run`` resolves them) and
the flow's constants. So ``self.x`` reads an input as it reads an artifact,
``self.next(...)`` is checked against the graph as in a run, ``current`` says
the flow, run (``"test"``), step and task, and a join's ``inputs`` are views of
the branches (``merge_artifacts`` included).

By default the task runs in a forked child process, as a run's tasks do: what
the step does to its process (module globals, ``os.environ`` through
``@environment``, signal handlers through ``@timeout``, the working directory)
does not reach the test. ``fork=False`` runs it in the test's own process
(for a debugger, a coverage tool that does not follow forks, or where there is
no ``fork``): then those effects stay.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import Any

from grange.datastore import AttemptRecord, LocalBlobStore, read_record, save_items, write_record
from grange.decorators.project import project_info
from grange.decorators.registry import step_decorators, task_options
from grange.exceptions import GrangeError, HarnessError, StepFailed
from grange.flowspec import FlowSpec
from grange.graph import FlowGraph, StepNode, graph_of, lint
from grange.parameters import current_username, flow_constants, resolve_values
from grange.task.spec import Frame, TaskSpec
from grange.task.stores import TaskStores, write_parameters
from grange.testing.child import ended, run_forked, run_here
from grange.testing.result import StepResult
from grange.testing.source import check_readable

RUN_ID = "test"
TASK_ID = "1"


def run_step(
    flow_cls: type[FlowSpec],
    step: str,
    inputs: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    input: Any = None,
    index: int | None = None,
    fork: bool = True,
    configs: Mapping[str, Any] | None = None,
) -> StepResult:
    """Run step ``step`` of ``flow_cls`` once and return its artifacts.

    ``inputs``: the artifacts the step starts with, as its parent step would have
    set them (a dict); for a join, one dict per incoming branch (a list, in branch
    order; or, after a static split, a dict by branch step name). ``params``: the
    run's parameter values by name (the defaults fill the rest, and are checked
    and converted as ``run --name value`` would). ``input``/``index``: the item
    (``self.input``) and its position (``self.index``, default 0) of a step inside
    a foreach (an item ``None`` is given with an explicit ``index``). ``fork``: run
    in a child process (see the module's doc; without ``os.fork``, in this one).
    ``configs``: the values of the flow's configs by name (a dict each, as a
    parser would return it); the others take their defaults, as ``run`` without
    ``--config`` does (never the ``GRANGE_FLOW_CONFIG`` variables of the test's
    environment). Decorators and parameter defaults that read a config see them.

    A step that raises raises :class:`~grange.exceptions.StepFailed` with the
    user's traceback; a step that raises and has ``@catch`` returns with
    ``.caught`` True, as its last attempt in a run would. Only one attempt runs
    (``@retry`` adds none). ``@timeout``, ``@environment``, ``@card`` and
    ``@secrets`` act as in a run; ``@resources``, ``@kubernetes``, ``@pypi`` and
    ``@conda`` do not: the step runs in this interpreter, on this machine.
    """
    __tracebackhide__ = True  # pytest: the failure is the step's, not this frame's
    if not (isinstance(flow_cls, type) and issubclass(flow_cls, FlowSpec)):
        raise HarnessError(
            f"run_step takes a FlowSpec class, not {flow_cls!r}",
            fix="pass the class itself: run_step(MyFlow, 'train', ...)",
        )
    check_readable(flow_cls, "run_step")
    bind_test_configs(flow_cls, configs)
    graph = graph_of(flow_cls)  # cached on the class: a forked child inherits it
    node = _node(flow_cls, graph, step)
    lint.check(graph)  # a flow that a run refuses passes no test of its steps either
    folder = tempfile.mkdtemp(prefix=f"grange-step-{flow_cls.__name__}-")
    blobs = LocalBlobStore(folder)
    stores = TaskStores(blobs, flow_cls.__name__)
    try:
        spec = _prepare(flow_cls, graph, node, stores, inputs, params, input, index)
        # @project: the facts of the user's own branch (user.<name>), as a local run's.
        project = project_info(flow_cls, user=spec.user)
        if fork and hasattr(os, "fork"):
            status = run_forked(flow_cls, spec, stores, project, folder)
        else:
            status = run_here(flow_cls, spec, stores, project)
        record = read_record(blobs, spec.flow, spec.run_id, spec.step, spec.task_id, 0)
        if record is None:
            raise StepFailed(
                f"step '{step}' ended its process without a result ({ended(status)}; see "
                "its output above: os._exit() in the step, or a crash in C code)",
                step=step,
                file=node.file,
                line=node.line,
                fix="find the os._exit() or the crash in the step (run with fork=False, "
                "it would end the test's own process the same way)",
            )
    except BaseException:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        raise
    result = StepResult(record, stores.cas, folder)
    if record.status != "ok":
        exception = record.exception or {}
        text = str(exception.get("text") or exception.get("message") or "")
        # The record's text opens with "Step 'x' (task ...) failed:" — say it once.
        head, _, rest = text.partition("\n")
        shown = rest if head.startswith("Step '") and rest else text
        raise StepFailed(
            f"step '{step}' of {flow_cls.__name__} raised:\n{shown}",
            traceback=text,
            exception=exception,
            result=result,
        )
    return result


def _node(flow_cls: type, graph: FlowGraph, step: str) -> StepNode:
    if isinstance(step, str) and step in graph:
        return graph[step]
    import difflib

    names = [n.name for n in graph]
    close = difflib.get_close_matches(str(step), names, n=1)
    raise HarnessError(
        f"{flow_cls.__name__} has no step {step!r}",
        file=graph[names[0]].file if names else None,
        fix=f"did you mean {close[0]!r}?" if close else f"its steps are: {', '.join(names)}",
    )


# -- the records a real run would have written before the task ----------------------


def _prepare(
    flow_cls: type[FlowSpec],
    graph: FlowGraph,
    node: StepNode,
    stores: TaskStores,
    inputs: Any,
    params: Mapping[str, Any] | None,
    item: Any,
    index: int | None,
) -> TaskSpec:
    """Write the run's parameters and the step's parent records; the task's spec."""
    values = run_values(flow_cls, params)
    # Every task of a run carries the run's parameters and the flow's constants: so do
    # the made-up parents (a join reads them as inputs[i].alpha).
    carried = dict(write_parameters(stores, RUN_ID, values).artifacts)
    foreach = _enclosing_foreach(graph, node)
    frames: tuple[Frame, ...] = ()
    if foreach is None:
        if item is not None or index is not None:
            raise HarnessError(
                f"step '{node.name}' is not inside a foreach: it has no self.input or self.index",
                step=node.name,
                fix="leave out input= and index=",
            )
    else:
        frames = (_foreach_frame(stores, node, foreach, item, index, inputs),)
    where: dict[str, Any] = {"step": node.name, "file": node.file, "line": node.line}
    reserved = set(values)
    if node.is_join:
        branches = _branches(graph, node, inputs)
        paths = []
        for i, ((branch, split, fanout), data) in enumerate(branches):
            task_id = str(i + 1)
            branch_frame = Frame(split, "1", i, len(branches), fanout)
            _write_parent(
                stores, branch, task_id, data, node, reserved, (branch_frame,), carried=carried
            )
            paths.append(f"{branch}/{task_id}")
        input_paths = tuple(paths)
    elif not node.in_funcs:
        if inputs:
            raise HarnessError(
                f"step '{node.name}' has no parent step: it starts with the parameters only",
                fix="pass parameter values with params=, not inputs=",
                **where,
            )
        input_paths = ()
    else:
        if inputs is not None and not isinstance(inputs, Mapping):
            raise HarnessError(
                f"inputs of step '{node.name}' must be a dict of artifacts, "
                f"not {type(inputs).__name__}",
                fix="pass inputs={'name': value, ...} (a list of dicts is for a join)",
                **where,
            )
        parent = node.in_funcs[0]
        _write_parent(
            stores, parent, "1", inputs or {}, node, reserved, frames, foreach, carried=carried
        )
        input_paths = (f"{parent}/1",)
    options = task_options(step_decorators(getattr(flow_cls, node.name), []))
    extra = options.task_extra()
    return TaskSpec(
        flow=flow_cls.__name__,
        run_id=RUN_ID,
        step=node.name,
        task_id=TASK_ID,
        input_paths=input_paths,
        frames=frames,
        user=current_username(),
        extra=extra,
    )


def bind_test_configs(flow_cls: type[FlowSpec], configs: Mapping[str, Any] | None) -> None:
    """Bind the flow's configs for a test: ``configs`` as given, the rest their defaults
    (the test's environment is not read). Binding again with other values re-binds."""
    from grange.graph.configs import bind_configs, has_configs
    from grange.user_configs.read import ConfigSources

    if configs is not None and not isinstance(configs, Mapping):
        raise HarnessError(
            f"configs must be a dict of config values by name, not {type(configs).__name__}",
            fix="pass configs={'config': {'cpu': 2}}",
        )
    if not has_configs(flow_cls):
        if configs:
            raise HarnessError(
                f"{flow_cls.__name__} has no Config, but configs= names "
                f"{', '.join(sorted(configs))}",
                fix="leave configs= out, or add the Config to the flow",
            )
        return
    module = sys.modules.get(flow_cls.__module__)
    where = getattr(module, "__file__", None)
    sources = ConfigSources(
        flow_dir=os.path.dirname(os.path.abspath(where)) if where else None,
        flow_name=flow_cls.__name__,
    )
    bind_configs(flow_cls, dict(configs) if configs else None, sources=sources)


def run_values(flow_cls: type[FlowSpec], params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The run's ``_parameters``: the flow's constants and every parameter's value."""
    if params is not None and not isinstance(params, Mapping):
        raise HarnessError(
            f"params must be a dict of parameter values, not {type(params).__name__}",
            fix="pass params={'alpha': 0.3}",
        )
    return {**flow_constants(flow_cls), **resolve_values(flow_cls, dict(params or {}))}


def _enclosing_foreach(graph: FlowGraph, node: StepNode) -> StepNode | None:
    """The innermost foreach (or num_parallel) split the step runs inside, or None."""
    fanouts = [graph[p] for p in node.split_parents if p in graph and graph[p].is_fanout]
    return fanouts[-1] if fanouts else None


def _foreach_frame(
    stores: TaskStores,
    node: StepNode,
    split: StepNode,
    item: Any,
    index: int | None,
    inputs: Any,
) -> Frame:
    """The step's place in its foreach. When ``inputs`` has the list the foreach runs
    over (``self.<foreach var>``, as the split step's task carries it), the items and
    their number are that list's (``input=`` defaults to its item ``index``); else a
    placeholder list of ``index + 1`` items ends with ``input``."""
    var = split.foreach_var
    given = inputs.get(var) if var and isinstance(inputs, Mapping) else None
    items: list[Any] | None = None
    if given is not None:
        try:
            items = list(given)
        except TypeError:
            raise HarnessError(
                f"input {var!r} of step '{node.name}' is what the foreach of step "
                f"'{split.name}' runs over, and {type(given).__name__} is not a list of items",
                step=node.name,
                fix=f"pass the list of items as {var}=[...], or leave it out",
            ) from None
    if item is None and index is None and not items:
        over = f"foreach over self.{var}" if var else "parallel split"
        raise HarnessError(
            f"step '{node.name}' runs inside the {over} of step '{split.name}': "
            "run_step needs the item it works on",
            step=node.name,
            file=node.file,
            line=node.line,
            fix="pass input=<the item> (self.input), and index=<its position> (self.index, "
            "default 0; give it for an item None)"
            + (f", or inputs={{'{var}': [...]}} (its items)" if var else ""),
        )
    if index is None:
        index = 0
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise HarnessError(
            f"index= must be a position (an int >= 0), not {index!r}", step=node.name
        )
    if items is not None:
        if index >= len(items):
            raise HarnessError(
                f"index={index} is past the {len(items)} items of input {var!r} of step "
                f"'{node.name}'",
                step=node.name,
                fix=f"pass an index below {len(items)}",
            )
        if item is not None:
            items[index] = item
    else:
        # Only item `index` is ever read by the task: the others are placeholders.
        items = [None] * index + [item]
    try:
        ref = save_items(
            stores.cas, stores.flow, items, max_items=len(items), name="input", step=split.name
        )
    except GrangeError as err:
        raise HarnessError(
            f"input= of step '{node.name}' cannot be stored: {err.message}",
            step=node.name,
            fix="items of a foreach travel pickled: pass a picklable value",
        ) from None
    return Frame(split.name, "1", index, len(items), True, ref.key)


def _branches(
    graph: FlowGraph, node: StepNode, inputs: Any
) -> list[tuple[tuple[str, str, bool], Mapping[str, Any]]]:
    """Each branch of a join: ((parent step, split step, foreach?), its artifacts)."""
    splits = [n for n in graph if n.matching_join == node.name]
    split = splits[0] if splits else None
    fanout = bool(split is not None and split.is_fanout)
    split_name = split.name if split is not None else node.in_funcs[0]
    parents = list(node.in_funcs)
    how = (
        "one dict per task of the foreach, e.g. inputs=[{'score': 1}, {'score': 2}]"
        if fanout
        else f"one dict per branch ({', '.join(parents)}), as a list in that order or a "
        "dict by branch step name"
    )
    where: dict[str, Any] = {"step": node.name, "file": node.file, "line": node.line}
    if isinstance(inputs, Mapping) and not fanout and set(inputs) == set(parents):
        inputs = [inputs[p] for p in parents]
    if (
        isinstance(inputs, (str, bytes, Mapping))
        or not isinstance(inputs, Sequence)
        or not inputs
        or not all(isinstance(i, Mapping) for i in inputs)
    ):
        raise HarnessError(
            f"step '{node.name}' is a join: its inputs are the branches arriving at it",
            fix=f"pass {how}",
            **where,
        )
    if not fanout and len(inputs) != len(parents):
        raise HarnessError(
            f"step '{node.name}' joins {len(parents)} branches ({', '.join(parents)}), "
            f"and {len(inputs)} were given",
            fix=f"pass {how}",
            **where,
        )
    steps = [parents[0]] * len(inputs) if fanout else parents
    return [((steps[i], split_name, fanout), data) for i, data in enumerate(inputs)]


def _write_parent(
    stores: TaskStores,
    step: str,
    task_id: str,
    values: Mapping[str, Any],
    child: StepNode,
    reserved: set[str],
    frames: tuple[Frame, ...],
    split: StepNode | None = None,
    *,
    carried: Mapping[str, Any],
) -> None:
    """Commit the record of a parent task that set ``values`` and went to ``child``,
    carrying the run's parameters and constants (``carried``: their stored refs)."""
    for name in values:
        if not isinstance(name, str) or not name.isidentifier():
            raise HarnessError(
                f"input {name!r} of step '{child.name}' is not an artifact name",
                step=child.name,
                fix="name inputs as the attributes the step reads (self.<name>)",
            )
        if name in reserved:
            raise HarnessError(
                f"input {name!r} of step '{child.name}' is a parameter or constant of the flow",
                step=child.name,
                fix=f"pass a parameter's value with params={{'{name}': ...}}; "
                "a constant is the class's",
            )
    try:
        refs = stores.save_artifacts(dict(values), step)
    except GrangeError as err:
        raise HarnessError(
            f"an input of step '{child.name}' cannot be stored: {err.message}",
            step=child.name,
            fix="artifacts travel between steps pickled: pass values that pickle "
            "(no open files, locks, lambdas or local classes)",
        ) from None
    refs = {**carried, **refs}
    extra: dict[str, Any] = {"next": [child.name], "frames": [f.to_list() for f in frames]}
    if split is not None and split.name == step and frames:
        extra["foreach"] = {"key": frames[-1].items_key, "count": frames[-1].count}
    now = time.time()
    write_record(
        stores.blobs,
        AttemptRecord(stores.flow, RUN_ID, step, task_id, 0, "ok", now, now, refs, None, extra),
    )
