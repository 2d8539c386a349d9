"""Running a container template's pod on this host: mounts, environment, deadline,
outputs from files, and Argo's retryStrategy around it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .expressions import ExpressionError, substitute
from .nodes import FAILED, Attempt, Node, gen_suffix
from .refuse import Refused

POD_IP = "127.0.0.1"


def _duration(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", str(value).strip())
    if not m:
        raise Refused(f"duration {value!r}")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
    return float(m.group(1)) * scale


class PodRunner:
    """The pod half of :class:`~.engine.Executor` (which sets these attributes)."""

    name: str
    python: str
    env: dict[str, str]
    cwd: str | None
    time_scale: float
    logs: Path
    volumes: dict[str, Any]
    slots: threading.BoundedSemaphore | None
    deadline: float | None
    nodes: list[Node]

    # -- pods -------------------------------------------------------------------------------

    def run_pod(self, template: Mapping[str, Any], node: Node, scope: dict[str, str]) -> None:
        def attempt(n: int) -> str:
            return self.run_attempt(template, node, {**scope, "retries": str(n)}, n)

        self.retrying(template, node, attempt)

    def retrying(
        self, template: Mapping[str, Any], node: Node, attempt: Callable[[int], str]
    ) -> None:
        """Argo's ``retryStrategy`` around ``attempt(n)`` (its phase), for a pod or,
        as Argo does, a whole DAG template: each attempt runs it all again."""
        rs = template.get("retryStrategy", {})
        limit = int(str(rs.get("limit", 0))) if rs else 0
        policy = rs.get("retryPolicy", "OnFailure") if rs else "OnFailure"
        backoff = rs.get("backoff", {}) if rs else {}
        for n in range(limit + 1):
            if self.deadline is not None and time.monotonic() >= self.deadline:
                node.phase, node.message = "Failed", "workflow deadline exceeded"
                return
            phase = attempt(n)
            node.phase = phase
            retry = {
                "Always": phase in FAILED,
                "OnFailure": phase == "Failed",
                "OnError": phase == "Error",
                "OnTransientError": phase == "Error",
            }[policy]
            if phase == "Succeeded" or not retry or n == limit:
                return
            if backoff:
                delay = _duration(backoff.get("duration", 0)) * float(backoff.get("factor", 1)) ** n
                if "maxDuration" in backoff:
                    delay = min(delay, _duration(backoff["maxDuration"]))
                time.sleep(delay * self.time_scale)

    def run_attempt(
        self, template: Mapping[str, Any], node: Node, scope: dict[str, str], attempt: int
    ) -> str:
        container = template["container"]
        pod = f"{self.name}-{template['name']}-{len(self.nodes)}-{attempt}-{gen_suffix()}"
        workdir = Path(tempfile.mkdtemp(prefix="pod-", dir=self.logs))
        volumes = {v["name"]: v for v in template.get("volumes", [])} | self.volumes
        mounts = {}
        for m in container.get("volumeMounts", []):
            if m["name"] not in volumes:
                raise ExpressionError(f"{node.name}: volume {m['name']!r} is not defined")
            folder = workdir / "volumes" / m["name"]
            folder.mkdir(parents=True, exist_ok=True)
            mounts[m["mountPath"].rstrip("/")] = str(folder)

        def local(text: str) -> str:
            text = substitute(text, scope, lenient=lambda r: False)
            for path, folder in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
                text = re.sub(rf"(?<![\w/.-]){re.escape(path)}(?=/|$|[^\w.-])", folder, text)
            return text

        argv = [local(str(a)) for a in [*container.get("command", []), *container.get("args", [])]]
        if not argv:
            raise Refused(f"{node.name}: a container without command (the image's entrypoint)")
        if argv[0] in ("python", "python3"):
            argv[0] = self.python
        env = {**os.environ, **self.env}
        fields = {
            "metadata.name": pod,
            "metadata.namespace": "default",
            "metadata.uid": str(uuid.uuid4()),
            "status.podIP": POD_IP,  # every pod runs on this host
        }
        for e in container.get("env", []):
            env[e["name"]] = (
                fields[e["valueFrom"]["fieldRef"]["fieldPath"]]
                if "valueFrom" in e
                else local(str(e.get("value", "")))
            )
        cwd = self.cwd
        if "workingDir" in container:
            cwd = local(container["workingDir"])
        deadlines = [d for d in (self.deadline,) if d is not None]
        if "activeDeadlineSeconds" in template:
            deadlines.append(time.monotonic() + float(template["activeDeadlineSeconds"]))
        stdout, stderr = workdir / "stdout", workdir / "stderr"
        record = Attempt("Running", None, "", stdout, stderr, argv)
        node.attempts.append(record)
        if self.slots is not None:
            self.slots.acquire()
        try:
            with open(stdout, "wb") as out, open(stderr, "wb") as err:
                try:
                    proc = subprocess.Popen(
                        argv, env=env, cwd=cwd, stdout=out, stderr=err, start_new_session=True
                    )
                except OSError as exc:
                    record.phase, record.message = "Error", f"cannot start: {exc}"
                    return "Error"
                try:
                    code = proc.wait(
                        timeout=max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
                    )
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    record.phase, record.exit_code = "Failed", proc.returncode
                    record.message = node.message = (
                        "Pod was active on the node longer than the specified deadline"
                    )
                    return "Failed"
        finally:
            if self.slots is not None:
                self.slots.release()
        record.exit_code = code
        if code != 0:
            record.phase, record.message = "Failed", f"exit code {code}"
            node.message = record.message
            return "Failed"
        outputs = {}
        for p in template.get("outputs", {}).get("parameters", []):
            vf = p.get("valueFrom", {})
            if "path" not in vf:
                raise Refused(f"{node.name}: container output {p['name']} without valueFrom.path")
            path = Path(local(vf["path"]))
            if path.is_file():
                outputs[p["name"]] = path.read_text()
            elif "default" in vf:
                outputs[p["name"]] = str(vf["default"])
            else:
                record.phase = "Error"
                record.message = node.message = f"output {p['name']}: {vf['path']} does not exist"
                return "Error"
        node.outputs = outputs
        record.phase = "Succeeded"
        return "Succeeded"
