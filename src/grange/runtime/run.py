"""``run`` and ``resume``: one run of a flow from start to summary.

Order matters here: the fork server is started right after the flow is
linted and its parameters resolved, before the metadata database is opened
or anything else that must not be inherited by forked tasks. The metadata
layer (SQLAlchemy) is imported only after the fork, which keeps the fork
server small: fork and copy-on-write costs grow with its heap (measured:
fork+task+exit 6.3 ms with SQLAlchemy loaded, 3.3 ms without).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import signal
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grange._version import __version__
from grange.datastore import (
    AttemptRecord,
    BlobStore,
    DatastoreLocation,
    read_record,
)
from grange.datastore.runs import write_final
from grange.decorators.project import ProjectInfo
from grange.environments.package import PackageInBackground
from grange.exceptions import CommandError
from grange.flowspec import FlowSpec
from grange.graph import FlowGraph, graph_of, lint
from grange.parameters import flow_constants
from grange.runtime.attempts import AttemptPolicy
from grange.runtime.configs import claim_configs, export_configs
from grange.runtime.envs import (
    RunEnvironments,
    StoppedPreparing,
    hand_over,
    origin_environments,
    prepare_environments,
)
from grange.runtime.loop import LoopResult, RunLoop
from grange.runtime.output import Output
from grange.runtime.resources import Machine, ResourcePool
from grange.runtime.resume import ClonePlan, plan_resume
from grange.runtime.run_launcher import innermost, run_launcher
from grange.runtime.scheduler import Pending, Scheduler
from grange.runtime.signals import StopSignals, exit_code
from grange.runtime.step_options import step_options
from grange.runtime.summary import summarize
from grange.runtime.zygote import ForkLauncher
from grange.task.spec import TaskSpec
from grange.task.stores import (
    PARAMETERS_STEP,
    PARAMETERS_TASK,
    TaskStores,
    parameters_record,
    save_parameters,
)


@dataclass
class RunRequest:
    """Everything ``run`` / ``resume`` was asked to do."""

    flow_cls: type[FlowSpec]
    flow_file: str
    datastore_root: DatastoreLocation  # a local directory or s3://bucket/prefix
    metadata_url: str  # "local": SQLite under the datastore root
    user: str
    events: Mapping[str, Any] = field(default_factory=dict)  # the profile's [events] table
    namespace: str | None = None
    tags: tuple[str, ...] = ()
    # values keyed by attribute name, converted and defaulted (``resolve_values``)
    parameters: dict[str, Any] = field(default_factory=dict)
    max_workers: int = 16
    max_num_splits: int = 100_000
    run_id_file: str | None = None
    fork: bool = True
    quiet: bool = False
    top_level_args: list[str] = field(default_factory=list)
    resume: bool = False
    origin_run_id: str | None = None
    resume_step: str | None = None
    force: bool = False  # resume: even an origin run that is still running
    decospecs: tuple[str, ...] = ()  # --with DECORATOR[:k=v,...]
    live: bool = False  # draw the live progress view (a terminal)
    package_suffixes: tuple[str, ...] = ()  # --package-suffixes, besides .py
    project: ProjectInfo | None = None  # @project: the branch the run belongs to
    # The events that started the run (TriggerEvent.to_dict() each), recorded in its
    # claim as extra["trigger"]; a resumed run keeps its origin run's.
    trigger: list[dict[str, Any]] | None = None


def execute(req: RunRequest) -> int:
    """Run (or resume) the flow; print the summary; return the exit code."""
    flow_cls = req.flow_cls
    flow = flow_cls.__name__
    graph = graph_of(flow_cls)
    lint.check(graph)
    options = step_options(flow_cls, graph, req.decospecs)
    values = dict(req.parameters) if not req.resume else {}
    # Tasks (and client calls inside them) find the same stores as this run.
    os.environ["GRANGE_DATASTORE_ROOT"] = str(req.datastore_root)
    if req.metadata_url != "local":
        os.environ["GRANGE_METADATA"] = req.metadata_url
    _check_paths(req)
    # The configs bound by the command line go to every task process (before the fork
    # server: forked tasks inherit the bound class, others bind these values).
    configs_file = export_configs(flow_cls)
    launcher = run_launcher(req, graph, options)
    # The code package is built while the run starts up (after the fork server
    # started: no thread is forked), stored once the datastore is open, and
    # recorded in the run's claim.
    packaging = PackageInBackground(req.flow_file, flow, req.package_suffixes, req.datastore_root)
    stop_signals = StopSignals().__enter__()  # after the fork server: not inherited
    try:
        notices: list[str] = []  # said once the output is up
        environments = None
        # Opened after the fork server started: an S3 client's threads would not
        # survive its forks (grange.datastore.s3.connect).
        blobs = _open_blobs(req.datastore_root)
        if not req.resume:  # now, so that their fork servers warm up while the run starts
            environments = prepare_environments(options, notice=notices.append, blobs=blobs)
            if environments is not None:
                hand_over(environments, launcher)
        from grange.metastore import MetadataStore
        from grange.metastore.liveness import current_process
        from grange.reindex import open_local_index, start_run
        from grange.runtime.recorder import Recorder

        stores = TaskStores(blobs, flow)
        if req.metadata_url == "local":
            index_dir = req.datastore_root.make_index_dir()
            metadata = open_local_index(index_dir, blobs, notice=notices.append)
        else:
            metadata = MetadataStore.from_url(req.metadata_url)
        # Stored once the index is open: a package written into a new datastore
        # first would make the index look lost ("was missing; rebuilt it").
        packaging.store_in(blobs)
        plan: ClonePlan | None = None
        if req.resume:
            plan = plan_resume(
                graph,
                metadata,
                stores,
                flow=flow,
                user=req.user,
                origin_run_id=req.origin_run_id,
                step=req.resume_step,
                force=req.force,
                branch_tag=req.project.system_tags[1] if req.project else None,
            )
        output = _output(req, graph)
        for text in notices:
            output.notice(text)
        local = innermost(launcher)  # a KubeLauncher (an EnvLauncher) wraps the local one
        if isinstance(local, ForkLauncher):
            local.pause_threads = output.paused
        if plan is not None:  # resume: the origin run's locks, for steps unchanged
            environments = prepare_environments(
                options,
                notice=output.notice,
                blobs=blobs,
                origin=origin_environments(blobs, flow, plan.origin_run_id),
                origin_run=plan.origin_run_id,
                runs=plan.steps_that_may_run(),
            )
        if environments is not None:  # recorded before the claim; an error: no run
            environments.store(blobs)
            hand_over(environments, launcher)
        code_package, package_notes = packaging.result()
        for text in package_notes:
            output.notice(text)
        # A new run's parameter blobs are stored before its claim, and its _parameters
        # task committed right after it: a run killed in between (kill -9) has as
        # little chance as possible to be claimed with nothing to resume from.
        param_blobs = (
            save_parameters(stores, {**flow_constants(flow_cls), **values})
            if plan is None
            else None
        )
        run_id = start_run(
            metadata,
            blobs,
            flow,
            user=req.user,
            tags=list(req.tags),
            system_tags=_system_tags(req),
            parameters=_printable(values if plan is None else plan.parameters),
            origin_run_id=plan.origin_run_id if plan else None,
            notice=output.notice,
            process=current_process(),
            extra=_claim_extra(req, blobs, plan, code_package, graph, environments),
        )
        try:
            early_params = None
            if param_blobs is not None:
                early_params = parameters_record(stores, run_id, param_blobs)
            if req.run_id_file:
                Path(req.run_id_file).write_text(run_id)
            output.run_started(flow, run_id, resumed_from=plan.origin_run_id if plan else None)
            recorder = Recorder(metadata, blobs, flow, run_id)
            params_spec = _spec(
                req,
                run_id,
                PARAMETERS_STEP,
                PARAMETERS_TASK,
                Pending(PARAMETERS_STEP, (), ()),
                plan,
            )
            if early_params is not None:
                params_record = early_params
            else:
                assert plan is not None  # a new run's were committed above
                params_record = plan.clone_parameters(params_spec)
            recorder.cloned(params_spec, params_record)
            counter = iter(range(1, sys.maxsize))

            def make_spec(pending: Pending) -> TaskSpec:
                return _spec(req, run_id, pending.step, str(next(counter)), pending, plan)

            def read(spec: TaskSpec) -> AttemptRecord | None:
                return read_record(blobs, flow, run_id, spec.step, spec.task_id, spec.attempt)

            started = time.time()
            loop = RunLoop(
                scheduler=Scheduler(graph),
                launcher=launcher,
                recorder=recorder,
                output=output,
                make_spec=make_spec,
                read_record=read,
                policy=AttemptPolicy(
                    options,
                    ResourcePool(Machine.detect()),
                    decospecs=req.decospecs,
                    notice=output.notice,
                ),
                clone=plan,
                max_workers=req.max_workers,
            )
            result = loop.run()
            stop_signals.settle()  # from here on, the run's end is recorded whatever comes
        except BaseException:
            # An error of grange's own (or a full disk) after the run was registered:
            # the run is over, say so in the index rather than let it read as running.
            with contextlib.suppress(Exception):
                _finish(metadata, blobs, flow, run_id, "failed")
            raise
        finally:
            output.close()
        status = _status(result, graph.end)
        _finish(metadata, blobs, flow, run_id, status)
        hung_up = result.interrupted and result.stop_signal == signal.SIGHUP
        with contextlib.suppress(OSError) if hung_up else contextlib.nullcontext():
            output.summary(summarize(req, run_id, status, result, time.time() - started))
        if status == "succeeded":  # metaflow.<flow>.end, for @trigger_on_finish (never raises)
            from grange.events.publish import emit_run_end

            emit_run_end(
                metadata,
                flow=flow,
                run_id=run_id,
                end_step=graph.end,
                project=req.project,
                events=req.events,
                user=req.user,
            )
        if result.interrupted:
            return exit_code(result.stop_signal)
        return 0 if status == "succeeded" else 1
    except StoppedPreparing as stopped:  # before the run was claimed: nothing to resume
        how = "Ctrl-C" if stopped.signum == signal.SIGINT else signal.Signals(stopped.signum).name
        print(
            f"Stopped ({how}) while resolving the environment of step {stopped.steps}; "
            "no run was started.",
            file=sys.stderr,
            flush=True,
        )
        return exit_code(stopped.signum)
    finally:
        stop_signals.__exit__()
        launcher.close()
        packaging.close()  # a run that failed to start: its packing thread ends too
        if configs_file is not None:
            with contextlib.suppress(OSError):
                os.unlink(configs_file)


def _finish(metadata: Any, blobs: BlobStore, flow: str, run_id: str, status: str) -> None:
    """Record the run's end in the datastore (for a rebuilt index), then in the index;
    if one fails (a full disk), the other is still tried, then the first error raised."""
    errors: list[Exception] = []
    at = time.time()  # the same in both, so that a rebuilt index says what this one says
    for record_end in (
        lambda: write_final(blobs, flow, run_id, status=status, at=at),
        lambda: metadata.finish_run(flow, run_id, status=status, at=at),
    ):
        try:
            record_end()
        except Exception as err:
            errors.append(err)
    if errors:
        raise errors[0]


def _check_paths(req: RunRequest) -> None:
    """Refuse, before anything is registered, a datastore root or a run-id file
    that cannot be written: a run must not be left behind half started."""
    if not req.datastore_root.is_local:
        _check_run_id_file(req)
        return
    root = req.datastore_root.path
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=root, prefix=".grange-probe-")  # can we, really?
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        if err.errno in (errno.EROFS, errno.EACCES, errno.ENOSPC):
            from grange.metastore.sqlite_errors import storage_error

            raise storage_error(err, root, doing="run a flow in") from None
        raise CommandError(
            f"the datastore root {root} is not a directory grange can write to "
            f"({err.strerror or err})",
            fix="pass --datastore-root (or set GRANGE_DATASTORE_ROOT to) a writable directory",
        ) from None
    _check_run_id_file(req)


def _open_blobs(location: DatastoreLocation) -> BlobStore:
    """The run's datastore; a remote one is checked with one cheap request (a missing
    bucket, refused credentials or an unreachable endpoint is said now, before a run
    is registered)."""
    blobs = location.open()
    if not location.is_local:
        blobs.children("")
    return blobs


def _check_run_id_file(req: RunRequest) -> None:
    if req.run_id_file:
        target = Path(req.run_id_file)
        folder = target.parent if str(target.parent) else Path(".")
        if target.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
            raise CommandError(
                f"--run-id-file {req.run_id_file}: cannot write a file there",
                fix="name a file in a directory that exists and is writable",
            )


def _claim_extra(
    req: RunRequest,
    blobs: BlobStore,
    plan: ClonePlan | None,
    code_package: Any,
    graph: FlowGraph,
    environments: RunEnvironments | None = None,
) -> dict[str, Any] | None:
    """What the run's claim records besides the usual: its graph (``Run.graph``, the
    UI's DAG), its code package, its steps' environments (``Run.environment``) and the
    events that started it (a resumed run: its origin run's)."""
    extra: dict[str, Any] = {"graph": graph.to_dict()}
    if code_package:
        extra["code_package"] = code_package.to_dict()
    if environments is not None:
        extra["environments"] = environments.claim
    trigger = req.trigger
    if plan is not None:
        from grange.datastore.runs import read_claim

        origin = read_claim(blobs, req.flow_cls.__name__, plan.origin_run_id)
        trigger = (origin.extra.get("trigger") if origin is not None else None) or None
    if trigger:
        extra["trigger"] = list(trigger)
    configs = claim_configs(req.flow_cls)
    if configs is not None:  # Run.config, and what resume binds again
        extra["configs"] = configs
    return extra or None


def _output(req: RunRequest, graph: FlowGraph) -> Output:
    if req.live and not req.quiet:
        from grange.runtime.progress import LiveOutput

        return LiveOutput([n.name for n in graph])
    return Output(quiet=req.quiet)


def _spec(
    req: RunRequest, run_id: str, step: str, task_id: str, pending: Pending, plan: ClonePlan | None
) -> TaskSpec:
    return TaskSpec(
        flow=req.flow_cls.__name__,
        run_id=run_id,
        step=step,
        task_id=task_id,
        input_paths=tuple(f"{run_id}/{p}" for p in pending.inputs),
        frames=pending.frames,
        iteration=pending.iteration,
        origin_run_id=plan.origin_run_id if plan else None,
        tags=req.tags,
        user=req.user,
        namespace=req.namespace,
    )


def _system_tags(req: RunRequest) -> list[str]:
    return [
        f"user:{req.user}",
        "runtime:local",
        f"grange_version:{__version__}",
        f"python_version:{platform.python_version()}",
        # @project: project:<name> and project_branch:<branch>, as Metaflow's
        *(req.project.system_tags if req.project is not None else ()),
    ]


def _printable(values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in values.items():
        try:
            json.dumps(value)
            out[name] = value
        except (TypeError, ValueError):
            out[name] = repr(value)[:200]
    return out


def _status(result: LoopResult, end: str) -> str:
    if result.interrupted or result.failures or end not in result.steps_done:
        return "failed"
    return "succeeded"
