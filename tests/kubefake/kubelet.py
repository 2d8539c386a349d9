"""The fake job controller and kubelet: each Job's pod runs its container's command on this host.

For a Job, the controller creates a pod (``<job>-<5 chars>``, labelled
``job-name``/``controller-uid`` like a real one) and the kubelet runs it in a
thread: it "pulls" the image (an image in ``FakeKube.unpullable`` waits forever in
``ImagePullBackOff``), schedules it (a ``nodeSelector`` not matching
``FakeKube.node_labels`` stays ``Unschedulable``), resolves ``envFrom`` Secrets
(a missing one: ``CreateContainerConfigError``), then runs ``command + args`` as
a subprocess (``python`` is this interpreter) in a fresh working directory with
``HOME`` there, a minimal environment plus the pod's, and the pod's log in a
file. Exit codes, pod phases, container states, Job conditions and
``activeDeadlineSeconds`` are as a real cluster reports them. Deleting a Job
(propagation Background/Foreground) kills its pods' processes (SIGTERM, then
SIGKILL after the grace period) and removes them.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubefake.store import KINDS, Store, now

if TYPE_CHECKING:
    from kubefake import FakeKube

_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"


class Kubelet:
    """Runs the pods of Jobs created on ``store``."""

    def __init__(self, fake: FakeKube, store: Store, workdir: Path) -> None:
        self.fake = fake
        self.store = store
        self.workdir = workdir
        self.procs: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
        self.logs: dict[tuple[str, str], Path] = {}
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.stopping = threading.Event()  # stop(): every thread ends, no pod starts
        store.on_create.append(self._created)
        store.on_delete.append(self._deleted)

    # -- controller -------------------------------------------------------------------

    def _created(self, plural: str, obj: dict[str, Any]) -> None:
        if plural != "jobs":
            return
        thread = threading.Thread(target=self._run_job, args=(obj,), daemon=True)
        self.threads.append(thread)
        thread.start()

    def _deleted(self, plural: str, obj: dict[str, Any], propagation: str) -> None:
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        if plural == "jobs":
            self.fake.deleted_jobs.append((ns, name, propagation))
            if propagation == "Orphan":
                return
            pods = self.store.list(KINDS["pods"], ns, f"controller-uid={obj['metadata']['uid']}")
            for pod in pods["items"]:
                with contextlib.suppress(Exception):
                    self.store.delete(KINDS["pods"], ns, pod["metadata"]["name"], "Background")
        elif plural == "pods":
            self._kill(ns, name, obj)

    def _kill(self, ns: str, name: str, pod: dict[str, Any]) -> None:
        with self.lock:
            proc = self.procs.get((ns, name))
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        grace = pod["spec"].get("terminationGracePeriodSeconds", 1)
        try:
            proc.wait(timeout=min(float(grace), 2.0))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    def _run_job(self, job: dict[str, Any]) -> None:
        ns, name, uid = (job["metadata"][k] for k in ("namespace", "name", "uid"))
        spec = job["spec"]
        tries = 1 + int(spec.get("backoffLimit", 6))
        self._job_status(ns, name, lambda s: s.update(startTime=now(), active=0))
        failed = 0
        for _ in range(tries):
            pod_name = f"{name}-{''.join(random.choice(_SUFFIX) for _ in range(5))}"
            template = spec["template"]
            labels = {
                **(template.get("metadata") or {}).get("labels", {}),
                "job-name": name,
                "batch.kubernetes.io/job-name": name,
                "controller-uid": uid,
                "batch.kubernetes.io/controller-uid": uid,
            }
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": pod_name,
                    "labels": labels,
                    "annotations": (template.get("metadata") or {}).get("annotations", {}),
                    "ownerReferences": [
                        {
                            "apiVersion": "batch/v1",
                            "kind": "Job",
                            "name": name,
                            "uid": uid,
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": template["spec"],
            }
            try:
                if self.stopping.is_set():
                    return
                self.store.create(KINDS["pods"], ns, pod)
            except Exception:  # the Job was deleted meanwhile, or its pod is invalid
                return
            self._job_status(ns, name, lambda s: s.update(active=1))
            code = self._run_pod(ns, pod_name, template["spec"])
            if code is None:  # deleted while running, or never started
                return
            if code == 0:
                self._job_status(ns, name, _finished("Complete", "", succeeded=1))
                return
            failed += 1
            self._job_status(ns, name, lambda s, f=failed: s.update(active=0, failed=f))
        self._job_status(
            ns,
            name,
            _finished("Failed", "BackoffLimitExceeded", failed=failed),
        )

    def _job_status(self, ns: str, name: str, change: Any) -> None:
        def apply(obj: dict[str, Any]) -> None:
            change(obj.setdefault("status", {}))

        self.store.update_status("jobs", ns, name, apply)

    # -- kubelet ----------------------------------------------------------------------

    def _pod_status(self, ns: str, name: str, **status: Any) -> bool:
        def apply(obj: dict[str, Any]) -> None:
            obj.setdefault("status", {}).update(status)

        return self.store.update_status("pods", ns, name, apply)

    def _waiting(
        self, ns: str, name: str, reason: str, message: str, scheduled: bool = True
    ) -> int | None:
        """Leave the pod Pending with its container waiting, until the pod is deleted."""
        conditions = [
            {"type": "PodScheduled", "status": "True"}
            if scheduled
            else {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": message,
            }
        ]
        container = {
            "name": "main",
            "ready": False,
            "restartCount": 0,
            "image": "",
            "imageID": "",
            "state": {"waiting": {"reason": reason, "message": message}},
        }
        status: dict[str, Any] = {"phase": "Pending", "conditions": conditions}
        if scheduled:
            status["containerStatuses"] = [container]
        while self._pod_status(ns, name, **status) and not self.stopping.wait(0.1):
            pass
        return None

    def _run_pod(self, ns: str, name: str, spec: dict[str, Any]) -> int | None:
        container = spec["containers"][0]
        image = container.get("image", "")
        selector = spec.get("nodeSelector") or {}
        if any(self.fake.node_labels.get(k) != v for k, v in selector.items()):
            return self._waiting(
                ns,
                name,
                "Unschedulable",
                "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
                "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
                scheduled=False,
            )
        if image in self.fake.unpullable:
            return self._waiting(
                ns,
                name,
                "ImagePullBackOff",
                f'Back-off pulling image "{image}"',
            )
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOSTNAME": name,
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        }
        env.update(self.fake.node_env)
        for source in container.get("envFrom") or []:
            ref = (source.get("secretRef") or {}).get("name")
            if ref is None:
                continue
            if ref not in self.fake.secrets:
                return self._waiting(
                    ns, name, "CreateContainerConfigError", f'secret "{ref}" not found'
                )
            env.update(self.fake.secrets[ref])
        for var in container.get("env") or []:
            env[var["name"]] = str(var.get("value", ""))
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        if argv and argv[0] in ("python", "python3"):
            argv[0] = sys.executable
        home = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.workdir))
        env["HOME"] = str(home)
        log = home / "container.log"
        started = now()
        if self.stopping.is_set():
            return None
        with open(log, "wb") as out:
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=home,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            except OSError as err:
                self._pod_status(ns, name, phase="Failed", reason="StartError", message=str(err))
                return 128
        with self.lock:
            self.procs[(ns, name)] = proc
            self.logs[(ns, name)] = log
        if self.stopping.is_set():  # close() may have missed it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        running = {"running": {"startedAt": started}}
        if not self._pod_status(
            ns,
            name,
            phase="Running",
            startTime=started,
            conditions=[
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True"},
            ],
            containerStatuses=[_container(running, image)],
        ):
            self._kill(ns, name, {"spec": spec})
        deadline = spec.get("activeDeadlineSeconds")
        try:
            code = proc.wait(timeout=float(deadline) if deadline else None)
            reason = None
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
            reason = "DeadlineExceeded"
        exit_code = code if code >= 0 else 128 - code
        terminated = {
            "terminated": {
                "exitCode": exit_code,
                "reason": "Completed" if exit_code == 0 else "Error",
                "startedAt": started,
                "finishedAt": now(),
            }
        }
        status: dict[str, Any] = {
            "phase": "Succeeded" if exit_code == 0 else "Failed",
            "containerStatuses": [_container(terminated, image)],
        }
        if reason:
            status.update(
                reason=reason,
                message="Pod was active on the node longer than the specified deadline",
            )
        if not self._pod_status(ns, name, **status):
            return None  # deleted: the Job went with it
        return exit_code

    def log_of(self, ns: str, name: str) -> tuple[Path | None, subprocess.Popen[bytes] | None]:
        with self.lock:
            return self.logs.get((ns, name)), self.procs.get((ns, name))

    def close(self) -> None:
        """Kill every container and end every thread (a test leaves none behind)."""
        self.stopping.set()
        with self.lock:
            procs = list(self.procs.values())
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for thread in self.threads:
            thread.join()


def _container(state: dict[str, Any], image: str) -> dict[str, Any]:
    return {
        "name": "main",
        "ready": "running" in state,
        "restartCount": 0,
        "image": image,
        "imageID": f"docker.io/library/{image}@sha256:{'0' * 64}",
        "started": "running" in state,
        "state": state,
    }


def _finished(kind: str, reason: str, **counts: int) -> Any:
    def change(status: dict[str, Any]) -> None:
        condition = {
            "type": kind,
            "status": "True",
            "lastProbeTime": now(),
            "lastTransitionTime": now(),
        }
        if reason:
            condition.update(reason=reason, message="Job has reached the specified backoff limit")
        status.update(active=0, conditions=[condition], **counts)
        if kind == "Complete":
            status["completionTime"] = now()

    return change
