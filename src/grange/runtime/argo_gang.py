"""A ``@parallel`` gang on Argo: how its N pods find node 0, the control task.

The compiler runs a gang as N pods of the step at once (``withSequence``), each
given its own IP by the downward API (``GRANGE_POD_IP`` from ``status.podIP``).
Node 0 publishes that IP in the datastore, under its own task's attempt folder
(``<Flow>/<run>/<step>/<control task>/<attempt>/gang-main-ip.json``); the other
nodes wait for it (bounded by ``GRANGE_GANG_WAIT`` seconds, default 900), then
run the step with ``current.parallel.main_ip`` set to it. The attempt is part of
the key, so the nodes of a retried gang never read the address of the pod of an
earlier attempt.

Argo does not stop the other pods of a gang when one fails (a DAG's failFast
only stops new tasks), and they would wait for it forever in an all-reduce. So
a node whose attempt failed says so (``gang-failed.json`` beside the address),
and every node of a gang of more than one watches for that
(:class:`GangWatch`, a daemon thread reading one small key every
:data:`WATCH_INTERVAL` seconds): a node that sees another fail records its own
attempt as failed, naming that task (as the local runtime does), and ends its
pod. The gang's DAG then retries all of it, or the run fails.

This costs one small write (node 0) or a few reads (the others) per gang task,
a read every few seconds while a gang task runs, and nothing for any other task.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from grange.datastore import AttemptRecord, BlobNotFound, TaskPaths, read_record, write_record
from grange.exceptions import KubernetesError
from grange.runtime.remote_task import argo_task_id
from grange.task.stores import TaskStores

MAIN_IP_FILE = "gang-main-ip.json"
FAILED_FILE = "gang-failed.json"
WATCH_INTERVAL = 3.0  # seconds between a gang node's looks for a failed node
POD_IP_ENV = "GRANGE_POD_IP"  # set by the compiled template (downward API)
WAIT_ENV = "GRANGE_GANG_WAIT"
DEFAULT_WAIT = 900.0  # seconds: time for a cluster to schedule (or scale up for) a gang
_POLL_FIRST, _POLL_MAX = 0.05, 2.0


def gang_info(
    stores: TaskStores,
    run_id: str,
    step: str,
    index: tuple[int, ...],
    attempt: int,
    *,
    fallback: bool = False,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """``extra["parallel"]`` of the gang task at ``index`` (its last part: the node):
    the control task's id and node 0's address, published (node 0) or awaited.

    A ``@catch`` fallback (no user code) neither publishes nor waits. Raises
    :class:`KubernetesError` naming the control task when its address does not
    come within the wait."""
    env = os.environ if environ is None else environ
    control = argo_task_id((*index[:-1], 0))
    own_ip = env.get(POD_IP_ENV) or _host_ip()
    if fallback:
        return {"control_task_id": control, "main_ip": own_ip}
    key = f"{TaskPaths(stores.flow, run_id, step, control, attempt).prefix}/{MAIN_IP_FILE}"
    if index[-1] == 0:
        payload = json.dumps({"main_ip": own_ip, "at": time.time()}).encode()
        stores.blobs.put_bytes(key, payload, overwrite=True)  # a re-created pod: its own
        return {"control_task_id": control, "main_ip": own_ip}
    wait = wait_seconds(env)
    return {
        "control_task_id": control,
        "main_ip": _await(stores, run_id, step, index, attempt, key, wait, sleep),
    }


def wait_seconds(environ: Mapping[str, str]) -> float:
    """``GRANGE_GANG_WAIT``: how long the other nodes wait for node 0's address."""
    text = environ.get(WAIT_ENV, "").strip()
    if not text:
        return DEFAULT_WAIT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise KubernetesError(
            f"{WAIT_ENV}={text!r} is not a number of seconds",
            fix=f"set {WAIT_ENV} to the seconds a gang's nodes wait for node 0, e.g. 900",
        )
    return value


def _await(
    stores: TaskStores,
    run_id: str,
    step: str,
    index: tuple[int, ...],
    attempt: int,
    key: str,
    wait: float,
    sleep: Callable[[float], None],
) -> str:
    control = argo_task_id((*index[:-1], 0))
    deadline = time.monotonic() + wait
    pause = _POLL_FIRST
    while True:
        try:
            return str(json.loads(stores.blobs.get_bytes(key))["main_ip"])
        except BlobNotFound:
            pass
        record = read_record(stores.blobs, stores.flow, run_id, step, control, attempt)
        if record is not None:  # node 0 ended without publishing: it will not come
            break
        if time.monotonic() >= deadline:
            break
        sleep(pause)
        pause = min(_POLL_MAX, pause * 1.5)
    me = argo_task_id(index)
    raise KubernetesError(
        f"task {stores.flow}/{run_id}/{step}/{me} (node {index[-1]} of a @parallel gang, "
        f"attempt {attempt}) found no address of its control task {control} (node 0) in "
        f"{stores.blobs.url(key)}"
        + (
            " : node 0 ended without publishing it"
            if record is not None
            else f" after waiting {wait:g} s: its pod has not started"
        ),
        step=step,
        fix=f"look at the pod of task {control} (kubectl get pods -l "
        "workflows.argoproj.io/workflow=<workflow>; argo logs): all the pods of a gang must "
        "be schedulable at once (cluster capacity, quotas, --max-workers); to wait longer, "
        f"set {WAIT_ENV}=SECONDS with @environment on the step",
    )


def _host_ip() -> str:
    """This host's address, when no pod IP was given (a task run by hand)."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def _gang_key(
    stores: TaskStores, run_id: str, step: str, index: tuple[int, ...], attempt: int
) -> str:
    control = argo_task_id((*index[:-1], 0))
    return TaskPaths(stores.flow, run_id, step, control, attempt).prefix


def report_failure(
    stores: TaskStores,
    run_id: str,
    step: str,
    index: tuple[int, ...],
    attempt: int,
    exception: Mapping[str, Any] | None,
) -> None:
    """A node's attempt failed: tell the others of its gang (:class:`GangWatch`)."""
    what = str((exception or {}).get("type", "a failure")).rsplit(".", 1)[-1]
    payload = {"task_id": argo_task_id(index), "node": index[-1], "type": what}
    key = f"{_gang_key(stores, run_id, step, index, attempt)}/{FAILED_FILE}"
    stores.blobs.put_bytes(key, json.dumps(payload).encode(), overwrite=False)


class GangWatch:
    """Ends this node's pod when another node of its gang attempt failed.

    It first records this node's attempt as failed, with a message naming the
    node that failed (the record of a step that finished first wins: records are
    written once), then exits the process: the step may be blocked in C code,
    waiting for the failed node, where no exception would reach it."""

    def __init__(
        self,
        stores: TaskStores,
        run_id: str,
        step: str,
        index: tuple[int, ...],
        attempt: int,
        frames: list[Any],
        *,
        interval: float = WATCH_INTERVAL,
        exit: Callable[[int], Any] = os._exit,
    ) -> None:
        self.stores, self.run_id, self.step = stores, run_id, step
        self.index, self.attempt, self.frames = index, attempt, frames
        self.interval = interval
        self.exit = exit
        self.key = f"{_gang_key(stores, run_id, step, index, attempt)}/{FAILED_FILE}"
        self.started = time.time()
        self._done = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name="grange-gang-watch", daemon=True).start()

    def stop(self) -> None:
        self._done.set()

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            try:
                failed = json.loads(self.stores.blobs.get_bytes(self.key))
            except BlobNotFound:
                continue
            except Exception:  # a store hiccup: look again next time
                continue
            if failed.get("task_id") == argo_task_id(self.index) or self._done.is_set():
                return
            self._stop(failed)
            return

    def _stop(self, failed: Mapping[str, Any]) -> None:
        message = (
            f"stopped: task {failed.get('task_id')} (node {failed.get('node')}) of the same "
            f"@parallel gang failed ({failed.get('type')}); the gang runs again whole if "
            "the step has retries left"
        )
        record = AttemptRecord(
            flow=self.stores.flow,
            run_id=self.run_id,
            step=self.step,
            task_id=argo_task_id(self.index),
            attempt=self.attempt,
            status="failed",
            started_at=self.started,
            finished_at=time.time(),
            exception={
                "type": "GangMemberFailed",
                "message": message,
                "traceback": "",
                "text": message,
            },
            extra={"frames": self.frames, "iteration": 0},
        )
        try:
            written = write_record(self.stores.blobs, record)
        except Exception:  # the step's own record came first (or the store is gone)
            written = False
        if not written or self._done.is_set():
            return
        print(message, file=sys.stderr, flush=True)
        self.exit(1)
