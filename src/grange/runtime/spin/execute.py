"""Run one step of an earlier run again, in this process, with the inputs that run recorded.

No scheduler, no worker, no fork server: the task runs through
:func:`grange.task.execute.run_task`, the code path of every task, with
stores that give it the original parents' records (with the
``--artifacts-module`` values on top) and keep what it writes in the spin
store (:mod:`grange.datastore.spin`). The original run is only read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from grange._version import __version__
from grange.datastore import (
    ArtifactRef,
    AttemptRecord,
    BlobStore,
    DatastoreLocation,
    LocalBlobStore,
    MemoryBlobStore,
)
from grange.datastore.runs import write_final
from grange.datastore.spin import SpinBlobStore, record_origin, spin_location
from grange.decorators.project import ProjectInfo
from grange.exceptions import CommandError, DatastoreError, GrangeError, MetadataError
from grange.flowspec import FlowSpec
from grange.graph import FlowGraph, graph_of, lint
from grange.parameters import configs_context, flow_constants, flow_parameters
from grange.runtime.spin.artifacts import Overrides, sort_overrides
from grange.runtime.spin.logs import captured_output
from grange.runtime.spin.origin import OriginTask
from grange.runtime.step_options import step_options
from grange.task.execute import run_task
from grange.task.inputs import parse_input_path
from grange.task.spec import TaskSpec
from grange.task.stores import (
    PARAMETERS_STEP,
    PARAMETERS_TASK,
    MissingInputError,
    TaskStores,
    parameters_record,
)

#: Decorators whose task-side part runs in a spin; the others (@retry, @catch,
#: @resources, @kubernetes) belong to a run's scheduler and are left out.
SPIN_DECORATORS = ("card", "environment", "secrets", "timeout")
IGNORED = ("retry", "catch", "resources", "kubernetes")
NO_PERSIST_RUN = "spin"  # the run id of a spin that keeps nothing
MAX_ID_TRIES = 50  # spins racing for the next spin-N id


@dataclass
class SpinRequest:
    """What ``spin`` was asked to do."""

    flow_cls: type[FlowSpec]
    flow_file: str
    origin: OriginTask
    datastore_root: DatastoreLocation
    user: str
    namespace: str | None = None
    artifacts: dict[str, Any] | None = None  # ARTIFACTS of --artifacts-module
    artifacts_path: str | None = None
    skip_decorators: bool = False
    persist: bool = True
    max_log_size: int = 10 * 1024 * 1024  # bytes per stream
    max_num_splits: int = 100_000
    decospecs: tuple[str, ...] = ()  # the top-level --with DECORATOR[:k=v,...]
    project: ProjectInfo | None = None
    notice: Any = print  # one-line notes for the user (stderr)


@dataclass
class SpinResult:
    """How the spun task went and where it is kept."""

    run_id: str
    record: AttemptRecord
    seconds: float
    store: DatastoreLocation | None  # None: --no-persist, nothing kept
    inputs: dict[str, ArtifactRef] = field(default_factory=dict)  # what the task started with
    given: set[str] = field(default_factory=set)  # names ARTIFACTS set
    blobs: BlobStore | None = None  # where the artifacts can be loaded from
    origin: DatastoreLocation | None = None  # the datastore spun from: inspect_spin(origin)

    @property
    def pathspec(self) -> str:
        r = self.record
        return f"{r.flow}/{r.run_id}/{r.step}/{r.task_id}"

    @property
    def ok(self) -> bool:
        return self.record.status == "ok"


class SpinTaskStores(TaskStores):
    """The task's stores, giving the records of its parents as the spin prepared them."""

    def __init__(
        self, blobs: BlobStore, flow: str, inputs: Mapping[tuple[str, str, str], AttemptRecord]
    ) -> None:
        super().__init__(blobs, flow)
        self._inputs = dict(inputs)

    def final_record(self, flow: str, run_id: str, step: str, task_id: str) -> AttemptRecord:
        found = self._inputs.get((run_id, step, task_id))
        return found if found is not None else super().final_record(flow, run_id, step, task_id)


def spin(req: SpinRequest) -> SpinResult:
    """Run the step of ``req.origin`` again with the flow class as it is now."""
    flow_cls, origin = req.flow_cls, req.origin
    flow = flow_cls.__name__
    graph = graph_of(flow_cls)
    lint.check(graph)
    extra = _task_extra(req, graph)
    origin_blobs = req.datastore_root.open()
    origin_stores = TaskStores(origin_blobs, flow)
    node = graph[origin.step]
    constants = flow_constants(flow_cls)
    names = [p.attribute or p.name for p in flow_parameters(flow_cls)]
    overrides = (
        sort_overrides(
            req.artifacts,
            path=req.artifacts_path or "ARTIFACTS",
            step=origin.step,
            run_id=origin.run_id,
            parents=origin.parents,
            is_join=node.is_join,
            parameters=names,
            constants=list(constants),
            taken=frozenset(n for n in dir(flow_cls) if not n.startswith("_"))
            - set(names)
            - set(constants),
        )
        if req.artifacts is not None
        else Overrides()
    )
    location = spin_location(req.datastore_root) if req.persist else None
    top: BlobStore
    if location is not None:
        location.path.mkdir(parents=True, exist_ok=True)
        top = LocalBlobStore(location.url)
        record_origin(top, req.datastore_root)
    else:
        top = MemoryBlobStore()
    blobs = SpinBlobStore(top, origin_blobs)
    parents = _parent_records(req, origin_stores, TaskStores(blobs, flow), overrides)
    stores = SpinTaskStores(blobs, flow, parents)
    param_refs = _parameter_refs(req, origin_stores, stores, overrides)
    index = _SpinIndex.open(req, top, graph) if location is not None else None
    run_id = index.run_id if index is not None else NO_PERSIST_RUN
    params = parameters_record(stores, run_id, param_refs)
    spec = TaskSpec(
        flow=flow,
        run_id=run_id,
        step=origin.step,
        task_id=origin.task_id,
        input_paths=origin.parents,
        frames=origin.frames,
        iteration=origin.iteration,
        tags=(),
        user=req.user,
        namespace=req.namespace,
        extra=extra,
    )
    if index is not None:
        index.begin(spec, params)
    started = time.monotonic()
    try:
        with (
            captured_output(index.log if index is not None else None, spec, limit=req.max_log_size),
            _exit_fails_the_step(),
        ):
            record = run_task(
                flow_cls, spec, stores, max_num_splits=req.max_num_splits, project=req.project
            )
    except BaseException:
        if index is not None:
            index.end(spec, None)
        raise
    seconds = time.monotonic() - started
    if index is not None:
        index.end(spec, record)
    # What the task started with: its parent's artifacts (a join: none) and the parameters.
    inputs = {} if node.is_join or not parents else dict(next(iter(parents.values())).artifacts)
    inputs.update(param_refs)
    return SpinResult(
        run_id=run_id,
        record=record,
        seconds=seconds,
        store=location,
        inputs=inputs,
        given=overrides.names,
        blobs=blobs,
        origin=req.datastore_root,
    )


class StepExited(Exception):
    """The spun step called ``os._exit()``: in a run its task would end without a
    result, and fail; the spin (which runs it in its own process) fails it instead."""


@contextlib.contextmanager
def _exit_fails_the_step() -> Iterator[None]:
    """While the step runs in this process, ``os._exit()`` raises :class:`StepExited`
    (the task records the failure, spin says it) instead of ending spin unseen; a
    process the step forks (multiprocessing) still exits with it."""
    real, pid = os._exit, os.getpid()

    def _exit(status: int) -> NoReturn:
        if os.getpid() != pid:
            real(status)
        raise StepExited(
            f"the step called os._exit({status}): in a run its task would end there, "
            "without a result, and fail"
        )

    os._exit = _exit
    try:
        yield
    finally:
        os._exit = real


def _task_extra(req: SpinRequest, graph: FlowGraph) -> dict[str, Any]:
    """What the task is given besides its inputs (``@environment``, ``@timeout``), and
    which decorators' task hooks run. Refuses what cannot run here."""
    step = req.origin.step
    node = graph[step]
    options = step_options(req.flow_cls, graph, req.decospecs)[step]
    where: dict[str, Any] = {"file": req.flow_file, "line": node.line, "step": step}
    if node.parallel_step or node.decorator("parallel"):
        raise CommandError(
            f"step '{step}' is a @parallel step: its tasks run as a gang, which spin cannot "
            "start alone",
            fix="run the flow (or resume it from this step)",
            **where,
        )
    if req.skip_decorators:
        return {"only_decorators": []}
    if options.environment is not None:
        env = options.environment
        raise CommandError(
            f"step '{step}' runs in its own {env.decorator or '@' + env.kind} environment, "
            "which spin does not build: spin runs the step in this Python",
            fix="add --skip-decorators to try the step in this Python as it is, or run the "
            "flow (resume from the step reuses what ran before)",
            **where,
        )
    extra: dict[str, Any] = {"only_decorators": list(SPIN_DECORATORS), **options.task_extra()}
    if req.decospecs:
        extra["with"] = list(req.decospecs)
    ignored = [n for n in IGNORED if node.decorator(n)]
    if ignored:
        names = ", ".join(f"@{n}" for n in ignored)
        req.notice(f"spin runs step '{step}' once, in this process, without {names} (for runs)")
    return extra


def _parent_records(
    req: SpinRequest, origin: TaskStores, spin: TaskStores, overrides: Overrides
) -> dict[tuple[str, str, str], AttemptRecord]:
    """The records of the task's parents in the original run, with ARTIFACTS on top
    (stored in the spin store)."""
    task = req.origin
    found = {}
    for path in task.parents:
        run_id, step, task_id = parse_input_path(path, task.run_id)
        try:
            record = origin.final_record(task.flow, run_id, step, task_id)
        except MissingInputError:
            raise CommandError(
                f"input {path} of task {task.path} has no successful attempt in "
                f"{origin.blobs.describe()}: spin needs every input the task read",
                step=task.step,
                fix="spin a task whose inputs all succeeded, or run the flow again",
            ) from None
        given = overrides.parents.get(path)
        if given:
            refs = {**record.artifacts, **_saved(spin, given, step, req.artifacts_path)}
            record = dataclasses.replace(record, artifacts=refs)
        found[(run_id, step, task_id)] = record
    return found


def _parameter_refs(
    req: SpinRequest, origin: TaskStores, stores: TaskStores, overrides: Overrides
) -> dict[str, ArtifactRef]:
    """The spin run's parameters: the original run's values, the flow's constants as the
    file has them now, defaults for parameters added since, and ARTIFACTS' values."""
    task = req.origin
    try:
        recorded = origin.parameters_record(task.run_id)
    except MissingInputError:
        raise CommandError(
            f"run {task.flow}/{task.run_id} has no recorded parameters in "
            f"{origin.blobs.describe()}",
            fix="spin a run that started properly, or run the flow again",
        ) from None
    refs = dict(recorded.artifacts)
    # Configs are stored with the run's parameters: copying the original's _parameters
    # keeps their values (the spin command bound the flow class to them before this).
    values: dict[str, Any] = dict(flow_constants(req.flow_cls))
    for param in flow_parameters(req.flow_cls):
        name = param.attribute or param.name
        if name in refs or name in overrides.parameters:
            continue
        value = param.default_value(task.flow, configs_context(req.flow_cls))
        if value is None and param.required:
            raise CommandError(
                f"parameter '{param.name}' is new since run {task.flow}/{task.run_id} and has "
                "no default: the step has no value for it",
                parameter=param.name,
                fix=f"give it one with --artifacts-module: ARTIFACTS = {{'{name}': ...}}",
            )
        values[name] = value
    values.update(overrides.parameters)
    refs.update(_saved(stores, values, PARAMETERS_STEP, req.artifacts_path))
    return refs


def _saved(
    stores: TaskStores, values: Mapping[str, Any], step: str, path: str | None
) -> dict[str, ArtifactRef]:
    try:
        return stores.save_artifacts(values, step)
    except GrangeError as err:
        raise CommandError(
            f"--artifacts-module {path}: a value cannot be stored: {err.message}",
            file=path,
            fix="give values that pickle (plain data, arrays, frames, your own classes "
            "defined in modules)",
        ) from None


class _SpinIndex:
    """The spin run in the spin store's own index: claimed, its tasks and logs, its end."""

    def __init__(self, metadata: Any, top: BlobStore, flow: str, run_id: str) -> None:
        from grange.runtime.recorder import Recorder

        self.metadata = metadata
        self.top = top
        self.flow = flow
        self.run_id = run_id
        self.recorder = Recorder(metadata, top, flow, run_id)

    @classmethod
    def open(cls, req: SpinRequest, top: BlobStore, graph: FlowGraph) -> _SpinIndex:
        from grange.metastore.liveness import current_process
        from grange.reindex import open_local_index, start_run
        from grange.runtime.configs import claim_configs

        location = spin_location(req.datastore_root)
        metadata = open_local_index(location.path, top)
        flow = req.flow_cls.__name__
        origin = req.origin
        # Spins started at once allocate their ids at once: the one that loses a race
        # for spin-N (in the index or in the datastore) takes the next free number.
        configs = claim_configs(req.flow_cls)  # what the spin ran with: its Run.config
        number = 0
        for attempt in range(MAX_ID_TRIES):
            # Past the last number tried too: a claim the index does not know is taken.
            number = max(_next_number(metadata.run_ids(flow)), number + 1)
            try:
                run_id = start_run(
                    metadata,
                    top,
                    flow,
                    user=req.user,
                    system_tags=[
                        f"user:{req.user}",
                        "runtime:spin",
                        f"grange_version:{__version__}",
                        f"python_version:{platform.python_version()}",
                        *(req.project.system_tags if req.project is not None else ()),
                    ],
                    origin_run_id=origin.run_id,
                    run_id=f"spin-{number}",
                    process=current_process(),
                    extra={
                        "graph": graph.to_dict(),
                        **({"configs": configs} if configs else {}),
                        "spin": {
                            "origin": origin.pathspec,
                            "datastore_root": str(req.datastore_root),
                            "artifacts_module": req.artifacts_path,
                        },
                    },
                )
                return cls(metadata, top, flow, run_id)
            except (DatastoreError, MetadataError):
                if attempt == MAX_ID_TRIES - 1:
                    raise
                time.sleep(random.uniform(0, 0.05))
        raise AssertionError("unreachable")

    def begin(self, spec: TaskSpec, params: AttemptRecord) -> None:
        params_spec = dataclasses.replace(
            spec, step=PARAMETERS_STEP, task_id=PARAMETERS_TASK, input_paths=(), frames=()
        )
        self.recorder.cloned(params_spec, params)
        self.recorder.started(spec)
        self.recorder.flush(force=True)

    def log(self, spec: TaskSpec, stream: str, data: bytes) -> None:
        self.recorder.log(spec, stream, data)

    def end(self, spec: TaskSpec, record: AttemptRecord | None) -> None:
        ok = record is not None and record.status == "ok"
        self.recorder.finished(spec, record, 0 if ok else 1)
        self.recorder.flush(force=True)
        status, at = ("succeeded" if ok else "failed"), time.time()
        write_final(self.top, self.flow, self.run_id, status=status, at=at)
        self.metadata.finish_run(self.flow, self.run_id, status=status, at=at)


def _next_number(run_ids: Any) -> int:
    numbers = [int(r[5:]) for r in run_ids if r.startswith("spin-") and r[5:].isdigit()]
    return max(numbers, default=0) + 1
