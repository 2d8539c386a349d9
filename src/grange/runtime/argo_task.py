"""Run one task of an Argo workflow: ``python flow.py step STEP --argo-index ...``.

The container's one command (see docs/production.md) names the step, the
foreach index path and the attempt; everything else comes from the graph and
the records in the datastore (:mod:`grange.runtime.remote_task`):

- start claims the run ``argo-<workflow name>`` (idempotently for a retry of
  the same workflow) and writes the ``_parameters`` task from the workflow's
  arguments (``--argo-parameter NAME=JSON``), converted and checked as ``run``
  does, missing ones taking their defaults;
- the step runs with its ``@environment``, ``@timeout`` and ``--with``
  decorators; an attempt past ``--max-user-retries`` of a ``@catch`` step is
  the fallback (no user code, the previous attempt's exception kept), as
  locally;
- once the attempt succeeded (or ``@catch`` handled its failure), its Argo
  output parameters are written as files and, for ``end``, ``run-final.json``.

The index is never written from a pod: readers index the run from its records
(:mod:`grange.client.sync`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from grange.datastore import included, read_record
from grange.datastore.records import list_attempts
from grange.datastore.runs import read_claim, read_final, write_final
from grange.decorators.project import ProjectInfo
from grange.decorators.registry import parse_decospec, step_decorators, task_options
from grange.decorators.triggers import TriggerEvent
from grange.exceptions import EventError, GrangeError, ParameterError
from grange.flowspec import FlowSpec
from grange.graph import graph_of
from grange.parameters import (
    Parameter,
    flow_constants,
    flow_parameters,
    normalized_name,
    resolve_values,
)
from grange.runtime.argo_gang import GangWatch, gang_info, report_failure
from grange.runtime.configs import claim_configs
from grange.runtime.remote_task import (
    argo_task_id,
    claim_argo_run,
    output_parameters,
    resolve,
    write_outputs,
)
from grange.task.execute import run_task
from grange.task.spec import TaskSpec
from grange.task.stores import (
    PARAMETERS_STEP,
    PARAMETERS_TASK,
    MissingInputError,
    TaskStores,
    write_parameters,
)

# The workflow arguments that carry events (grange.deploy.argo.naming.TRIGGER_PARAMETER_PREFIX).
TRIGGER_PREFIX = "grange-trigger-"
# What the Sensor passes instead of a payload past its limit (grange.deploy.argo.sensor)
OVERSIZE_FIELD = "grange-payload-too-large"


@dataclass(frozen=True)
class ArgoTaskRequest:
    """What the ``step`` command was given in Argo mode."""

    step: str
    run_id: str
    index: tuple[int, ...]
    attempt: int
    max_user_retries: int
    outputs_dir: str | None
    workflow_uid: str | None = None
    parameters: Sequence[str] = ()  # NAME=JSON
    iteration: int = 0
    foreach_batch_size: int = 1_000
    max_num_splits: int = 100_000
    user: str = ""
    tags: tuple[str, ...] = ()
    namespace: str | None = None
    with_decorators: tuple[str, ...] = ()
    project: ProjectInfo | None = None  # @project: the branch (--branch/--production)


def _free_attempt(stores: TaskStores, req: ArgoTaskRequest, task_id: str) -> ArgoTaskRequest:
    """``{{retries}}`` is the attempt number, but ``argo retry``/``resubmit`` (or the UI's
    Retry) run a node again from 0: records are written once, so such a re-run takes
    the next attempt number instead of failing after the user's code ran."""
    taken = list_attempts(stores.blobs, stores.flow, req.run_id, req.step, task_id)
    if req.attempt not in taken:
        return req
    return replace(req, attempt=max(taken) + 1)


def run_argo_task(flow_cls: type[FlowSpec], stores: TaskStores, req: ArgoTaskRequest) -> int:
    """Run the task; its exit status (0: succeeded, or failed and caught)."""
    graph = graph_of(flow_cls)
    if req.step == graph.start:
        _start_run(flow_cls, stores, req)
    task = resolve(graph, stores, req.run_id, req.step, req.index, req.iteration)
    if not graph[req.step].parallel_step:  # a gang's nodes keep one attempt number
        req = _free_attempt(stores, req, task.task_id)
    options = task_options(
        step_decorators(
            getattr(flow_cls, req.step), [parse_decospec(s) for s in req.with_decorators]
        )
    )
    extra = options.task_extra()
    if req.with_decorators:
        extra["with"] = list(req.with_decorators)
    if options.catch and req.attempt > req.max_user_retries:
        extra["catch"] = {
            "var": options.catch_var,
            "print": options.print_exception,
            "exception": _previous_exception(stores, req, task.task_id),
        }
    watch = None
    if graph[req.step].parallel_step:  # a gang's node: where node 0 is
        extra["parallel"] = gang_info(
            stores, req.run_id, req.step, req.index, req.attempt, fallback="catch" in extra
        )
        if "catch" not in extra and task.frames and task.frames[-1].count > 1:
            frames = [f.to_list() for f in task.frames]
            watch = GangWatch(stores, req.run_id, req.step, req.index, req.attempt, frames)
            watch.start()
    spec = TaskSpec(
        flow=flow_cls.__name__,
        run_id=req.run_id,
        step=req.step,
        task_id=task.task_id,
        attempt=req.attempt,
        input_paths=task.input_paths,
        frames=task.frames,
        iteration=task.iteration,
        tags=req.tags,
        user=req.user,
        namespace=req.namespace,
        max_user_retries=req.max_user_retries,
        extra=extra,
    )
    record = run_task(
        flow_cls, spec, stores, max_num_splits=req.max_num_splits, project=req.project
    )
    if watch is not None:
        watch.stop()
        if record.status != "ok":  # the other nodes stop rather than wait for this one
            report_failure(stores, req.run_id, req.step, req.index, req.attempt, record.exception)
    if record.status != "ok":
        return 1
    if req.outputs_dir:
        values = output_parameters(graph, record, batch_size=req.foreach_batch_size)
        write_outputs(req.outputs_dir, values)
    if req.step == graph.end:
        write_final(stores.blobs, stores.flow, req.run_id, status="succeeded", at=time.time())
        emit_end_event(flow_cls.__name__, req.run_id, req.step, task.task_id, req.project, req.user)
    return 0


def _start_run(flow_cls: type[FlowSpec], stores: TaskStores, req: ArgoTaskRequest) -> None:
    given, trigger = split_trigger_parameters(req.parameters)
    values = argo_parameter_values(flow_cls, given, stores)
    claim_argo_run(
        stores,
        req.run_id,
        workflow_uid=req.workflow_uid,
        user=req.user,
        tags=req.tags,
        parameters=values,
        code_package=_code_package(stores),
        system_tags=req.project.system_tags if req.project is not None else (),
        trigger=trigger,
        graph=graph_of(flow_cls).to_dict(),
        environments=_deployed_environments(stores),
        configs=claim_configs(flow_cls),
    )
    written = read_record(
        stores.blobs, stores.flow, req.run_id, PARAMETERS_STEP, PARAMETERS_TASK, 0
    )
    if written is None:  # not by an earlier attempt of start
        write_parameters(stores, req.run_id, {**flow_constants(flow_cls), **values})


def _deployed_environments(stores: TaskStores) -> dict[str, Any]:
    """The locks the deployment gave its steps (@pypi/@conda), as the run's claim
    records them; {} for a deployment without any."""
    from grange.environments.podenv import DEPLOYED_LOCKS_ENV

    given = os.environ.get(DEPLOYED_LOCKS_ENV)
    if not given:
        return {}
    from grange.environments.podenv import claim_of

    return claim_of(stores.blobs, given)


def _code_package(stores: TaskStores) -> dict[str, Any] | None:
    """The package this pod runs from, as the bootstrap told it (None: not from one)."""
    from grange._version import __version__
    from grange.environments.package import PackageRef, package_key

    url = os.environ.get("GRANGE_CODE_PACKAGE_URL")
    sha = os.environ.get("GRANGE_CODE_PACKAGE_SHA")
    flow_file = os.environ.get("GRANGE_CODE_PACKAGE_FLOW_FILE")
    if not (url and sha and flow_file):
        return None
    try:  # one request, at the start of a run only
        size = stores.blobs.size(package_key(stores.flow, sha))
    except (GrangeError, OSError, ValueError):  # stored elsewhere: the size is only informative
        size = 0
    ref = PackageRef(url=url, sha=sha, flow_file=flow_file, size=size, grange_version=__version__)
    return ref.to_dict()


def split_trigger_parameters(given: Sequence[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """The flow's ``NAME=JSON`` arguments, and the events that started the run.

    The compiler passes each event's whole payload (set by the Argo Events Sensor)
    as ``grange-trigger-<event|run>-<dependency>=<payload JSON>``, ``null`` when the
    run was not started by that event (``argo-workflows trigger``, a schedule)."""
    params: list[str] = []
    events: list[dict[str, Any]] = []
    for pair in given:
        name, _, text = pair.partition("=")
        if not name.startswith(TRIGGER_PREFIX):
            params.append(pair)
            continue
        kind: Literal["event", "run"] = (
            "run" if name[len(TRIGGER_PREFIX) :].startswith("run-") else "event"
        )
        try:
            payload = json.loads(text)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            continue  # not set by a Sensor
        if set(payload) == {OVERSIZE_FIELD}:
            raise EventError(
                f"the event that started this run (Sensor parameter {name}) has a payload of "
                f"{payload[OVERSIZE_FIELD]} bytes of JSON, more than the 32768 an Argo run can "
                "take: the run is not started",
                fix="publish a smaller payload (store large data in S3 and send its location)",
            )
        event = TriggerEvent(
            name=str(payload.get("name") or ""),
            id=str(payload.get("id") or payload.get("pathspec") or ""),
            timestamp=_seconds(payload.get("timestamp")),
            type=kind,
            payload=payload,
        )
        events.append(event.to_dict())
    return params, events


def _seconds(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


# The end event's tries (the webhook's pod restarting, the API server busy): longer than
# Event.publish()'s 30 s, as nothing else will ever send it (pods never write the
# metadata database). The run's pod waits at most this long after its end step.
END_EVENT_BUDGET = 180.0


def emit_end_event(
    flow: str, run_id: str, step: str, task_id: str, project: ProjectInfo | None, user: str
) -> None:
    """Publish the run's end event (``metaflow.<project_flow_name>.end``, Metaflow's
    payload) to the webhook the deployment names (``GRANGE_EVENTS_URL``, set by the
    compiler), unless it was deployed with ``--no-auto-emit-argo-events``. Nothing
    is sent without a URL (a pod never writes the metadata database). At most once:
    tried for :data:`END_EVENT_BUDGET` seconds, then a warning in the end step's log
    with the command that sends it again (same id and time). The run
    succeeded whatever becomes of its event."""
    url = os.environ.get("GRANGE_EVENTS_URL")
    if not url or os.environ.get("GRANGE_EVENTS_AUTO_EMIT", "").lower() in ("0", "false", "no"):
        return
    record = None
    try:
        from grange.events.model import check_size
        from grange.events.publish import end_event, post

        record = end_event(
            flow=flow, run_id=run_id, end_step=step, task_id=task_id, project=project, user=user
        )
        check_size(record)
        token = os.environ.get("GRANGE_EVENTS_TOKEN") or None
        post(record, url, token=token, budget=END_EVENT_BUDGET)
        print(f"Event ({record.name}) published to {url}.", file=sys.stderr)
    except Exception as err:
        text = err.message if isinstance(err, GrangeError) else f"{type(err).__name__}: {err}"
        print(
            f"Warning: the run succeeded, but its end event could not be published: {text}. "
            "Flows with @trigger_on_finish on this one were not started."
            + (_resend_hint(record, url) if record is not None else ""),
            file=sys.stderr,
        )


def _resend_hint(record: Any, url: str) -> str:
    """The command that publishes ``record`` again, as it was (its id and timestamp)."""
    import shlex

    payload = {k: v for k, v in record.payload.items() if k not in ("name", "id")}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return (
        " Send it again (same id and time) if it never arrived, with:\n"
        f"  echo {shlex.quote(text)} | grange events publish {shlex.quote(record.name)} "
        f"--id {shlex.quote(record.event_id)} --url {shlex.quote(url)} --payload-file -"
    )


def argo_parameter_values(
    flow_cls: type, given: Sequence[str], stores: TaskStores | None = None
) -> dict[str, Any]:
    """``NAME=JSON`` pairs as ``run`` would take them: converted, checked, defaulted.

    A value that is not JSON is taken as text (a hand-submitted workflow), then
    converted to the parameter's type like a command-line value. An
    ``IncludeFile``'s value is a reference to its file in the datastore (stored by
    ``argo-workflows create`` or ``trigger``), read from ``stores``."""
    with tempfile.TemporaryDirectory(prefix="grange-include-") as tmp:
        return _parameter_values(flow_cls, given, stores, tmp)


def _parameter_values(
    flow_cls: type, given: Sequence[str], stores: TaskStores | None, tmp: str
) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    params = {normalized_name(p.name): p for p in flow_parameters(flow_cls)}
    for pair in given:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ParameterError(
                f"--argo-parameter {pair!r} is not NAME=VALUE",
                fix="the compiled workflow passes NAME={{workflow.parameters.NAME}}; "
                "compile the flow again with `argo-workflows create`",
            )
        param = params.get(normalized_name(name))
        if param is None:
            raw[name] = text  # unknown: resolve_values names it
            continue
        ref = _reference(text) if param.is_file and stores is not None else None
        if ref is not None and stores is not None:
            # convert() reads a path, as in a local run: the stored file, copied here
            name = os.path.basename(str(ref.get("name") or "file"))
            path = os.path.join(tmp, f"{len(raw)}-{name}")
            with open(path, "wb") as fh:
                fh.write(included.load(stores.blobs, ref))
            raw[param.name] = path
        else:
            raw[param.name] = _given(param, text)
    try:
        return resolve_values(flow_cls, raw)
    except ParameterError as err:
        err.message = f"workflow argument: {err.message}"
        err.fix = (
            "trigger the workflow with a valid value, e.g. "
            f"`argo-workflows trigger --{err.parameter} VALUE`"
            + (f" ({err.fix})" if err.fix else "")
        )
        raise


def _reference(text: str) -> dict[str, Any] | None:
    """The stored-file reference an IncludeFile's JSON value holds, if it is one."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return dict(value) if included.is_reference(value) else None


def _given(param: Parameter, text: str) -> Any:
    """The value ``param`` was given as JSON ``text``, as raw input to ``convert``.

    The compiler encodes converted defaults, so a ``separator`` parameter's default
    arrives as a JSON list of its parts (joined back: ``convert`` splits it again);
    a ``str`` parameter given anything but a JSON string (an object, a list, a number
    or a bool, as typed by hand in Argo's UI) takes the text itself."""
    try:
        value = json.loads(text)
    except ValueError:
        return text  # not JSON (a workflow submitted by hand): text, as on a command line
    parts = isinstance(value, list) and all(isinstance(v, str) for v in value)
    if parts and param.separator is not None:
        return param.separator.join(value)
    if isinstance(value, (list, dict, bool, int, float)) and param.type is str:
        return text  # "true", "0.10", "1e5" typed in Argo's UI stay as typed
    return value


def _previous_exception(stores: TaskStores, req: ArgoTaskRequest, task_id: str) -> dict[str, Any]:
    record = read_record(stores.blobs, stores.flow, req.run_id, req.step, task_id, req.attempt - 1)
    if record is not None and record.exception:
        return dict(record.exception)
    return {
        "type": "WorkerDied",
        "message": "the pod of the previous attempt ended without recording a result "
        "(killed, out of memory, or past its deadline)",
    }


def finish_argo_run(stores: TaskStores, run_id: str, argo_status: str, *, end: str) -> str | None:
    """Record how the run ended, if ``end`` did not (Argo's exit handler).

    ``argo_status`` is ``{{workflow.status}}`` (Succeeded, Failed, Error). The run
    succeeded only if Argo says so and ``end`` recorded success. Returns the status
    written, or None when nothing was (already recorded, or the run never started).
    """
    if read_final(stores.blobs, stores.flow, run_id) is not None:
        return None
    if read_claim(stores.blobs, stores.flow, run_id) is None:
        return None  # start never claimed it: there is no run to end
    status = "failed"
    if argo_status == "Succeeded":
        try:
            stores.final_record(stores.flow, run_id, end, argo_task_id(()))
            status = "succeeded"
        except MissingInputError:
            pass
    write_final(stores.blobs, stores.flow, run_id, status=status, at=time.time())
    return status
