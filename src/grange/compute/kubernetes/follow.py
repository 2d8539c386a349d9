"""The follower: one small process per task attempt that runs it as a Kubernetes Job.

``python -m grange.compute.kubernetes.follow --spec FILE [--ready-fd N]``

It creates the Job (from the JSON spec the launcher wrote: the Job manifest and
the client settings), waits for its pod, writes a byte to ``--ready-fd`` once
the container runs (the runtime starts the attempt's clock then), streams the
container's log to stdout, and exits with the container's exit code. A pod
that cannot run ends it with a message saying why and what to do (exit 1).
The Job is deleted (propagation Background) when the follower ends, for any
reason: done, failed, SIGTERM/SIGINT/SIGHUP (the runtime stopping the attempt:
``@timeout``, Ctrl-C) or its parent's death. After a signal it ends by that
signal, as a killed task process would.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from typing import Any

from grange.compute.kubernetes.api import api_error, load_client
from grange.compute.kubernetes.job import LAUNCH_LABEL, Outcome, pod_outcome
from grange.exceptions import GrangeError, KubernetesError

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Stopped(BaseException):
    """A signal asked the follower to stop (raised in its main thread)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Follower:
    """Runs one Job to its end (see the module docstring)."""

    def __init__(self, spec: dict[str, Any], ready_fd: int | None) -> None:
        from kubernetes import client

        self.spec = spec
        self.manifest: dict[str, Any] = spec["job"]
        self.namespace: str = self.manifest["metadata"]["namespace"]
        self.ready_fd = ready_fd
        api = load_client(spec.get("settings"))
        # Raw answers (_preload_content=False): plain JSON, no model deserialisation.
        self.batch: Any = client.BatchV1Api(api)
        self.core: Any = client.CoreV1Api(api)
        self.name: str | None = None
        self._tail = b""  # the end of the container's log, for the hints below
        self.unschedulable_timeout = float(spec.get("unschedulable_timeout") or 900)

    def run(self) -> int:
        try:
            created = self.batch.create_namespaced_job(
                self.namespace, self.manifest, _preload_content=False
            )
        except Exception as err:
            raise api_error(err, f"creating a Job in namespace {self.namespace!r}") from None
        self.name = json.loads(created.data)["metadata"]["name"]
        _say(f"Kubernetes Job {self.namespace}/{self.name} created")
        pod, outcome = self._wait_start()
        if outcome.state == "failed":
            _say(f"Kubernetes: {outcome.message}")
            return 1
        self._ready()
        # Also when the container ended before it was seen running: its log is all there.
        self._stream_log(pod)
        if outcome.state == "running":
            outcome = self._wait_end(pod)
        if outcome.message:
            _say(f"Kubernetes: {outcome.message}")
        code = 1 if outcome.state == "failed" else int(outcome.exit_code or 0)
        image = self.manifest["spec"]["template"]["spec"]["containers"][0].get("image")
        hint = missing_grange_hint(self._tail, str(image)) if code else None
        if hint:
            _say(f"Kubernetes: {hint}")
        return code

    # -- following --------------------------------------------------------------------

    def _read(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        """A read of the API, tried again on a transient error (a connection reset, 429,
        5xx) for about half a minute: a hiccup must not fail a task that is running."""
        delay = 0.5
        for attempt in range(7):
            try:
                return call(*args, _preload_content=False, **kwargs)
            except Exception as err:
                status = getattr(err, "status", None)
                transient = status in (None, 0, 429, 500, 502, 503, 504)
                if not transient or attempt == 6 or not _is_api_failure(err):
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 8.0)
        raise AssertionError("unreachable")

    def _pods(self) -> list[dict[str, Any]]:
        try:
            answer = self._read(
                self.core.list_namespaced_pod,
                self.namespace,
                label_selector=f"job-name={self.name}",
            )
        except Exception as err:
            raise api_error(err, f"listing the pods of Job {self.namespace}/{self.name}") from None
        items: list[dict[str, Any]] = json.loads(answer.data).get("items") or []
        return items

    def _wait_start(self) -> tuple[str, Outcome]:
        """The pod's name and its outcome once it runs, ended or cannot run."""
        delay, noticed, seen = 0.05, False, ""
        unschedulable_since: float | None = None
        while True:
            pods = self._pods()
            if pods:
                pod = pods[-1]
                seen = pod["metadata"]["name"]
                outcome = pod_outcome(pod)
                if outcome.state != "waiting":
                    return seen, outcome
                if outcome.notice:
                    unschedulable_since = unschedulable_since or time.monotonic()
                    if not noticed:
                        _say(f"Kubernetes: {outcome.notice}")
                        noticed = True
                    waited = time.monotonic() - unschedulable_since
                    if waited > self.unschedulable_timeout:
                        message = (
                            f"the pod could not be scheduled for {waited:.0f} s (Unschedulable); "
                            "fix: lower the step's @resources/@kubernetes requests, or fix its "
                            "node_selector/tolerations"
                        )
                        return seen, Outcome("failed", message=message)
                else:
                    unschedulable_since = None
            elif seen:
                return seen, Outcome("failed", message=f"the pod {seen} was deleted")
            else:
                failed = self._job_failure()
                if failed:
                    return seen, Outcome("failed", message=failed)
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    def _job_failure(self) -> str | None:
        """Why the Job ended without a pod (deleted, past its deadline...), or None."""
        try:
            answer = self._read(self.batch.read_namespaced_job, self.name, self.namespace)
        except Exception as err:
            if getattr(err, "status", None) == 404:
                return f"the Job {self.namespace}/{self.name} was deleted before its pod started"
            raise api_error(err, f"reading Job {self.namespace}/{self.name}") from None
        for condition in (json.loads(answer.data).get("status") or {}).get("conditions") or []:
            if condition.get("type") == "Failed" and condition.get("status") == "True":
                reason = condition.get("reason") or "Failed"
                return f"the Job failed ({reason}): {condition.get('message') or 'no pod ran'}"
        return None

    def _wait_end(self, name: str) -> Outcome:
        delay = 0.02
        while True:
            try:
                answer = self._read(self.core.read_namespaced_pod, name, self.namespace)
            except Exception as err:
                if getattr(err, "status", None) == 404:
                    return Outcome("failed", message=f"the pod {name} was deleted before it ended")
                raise api_error(err, f"reading pod {self.namespace}/{name}") from None
            outcome = pod_outcome(json.loads(answer.data))
            if outcome.state in ("ended", "failed"):
                return outcome
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    def _stream_log(self, name: str) -> None:
        """Copy the container's log to stdout as it comes, until the container ends."""
        out = sys.stdout.buffer
        try:
            response = self._read(
                self.core.read_namespaced_pod_log,
                name,
                self.namespace,
                container="main",
                follow=True,
            )
            for chunk in response.stream(amt=None, decode_content=False):
                out.write(chunk)
                out.flush()
                self._tail = (self._tail + chunk)[-4096:]
        except Stopped:
            raise
        except Exception as err:  # the stream broke: say where the rest of the log is
            _say(
                f"Kubernetes: the log stream of pod {name} broke ({type(err).__name__}: {err}); "
                f"the rest is in: kubectl logs -n {self.namespace} {name}"
            )

    def _ready(self) -> None:
        if self.ready_fd is not None:
            with contextlib.suppress(OSError):
                os.write(self.ready_fd, b"r")
                os.close(self.ready_fd)
            self.ready_fd = None

    def delete(self) -> None:
        """Delete the Job and its pod (if it was created); quietly if already gone.

        Stopped while the Job was being created, the follower does not know its
        name: it finds it by the attempt's own label (``grange.dev/launch``)."""
        names = [self.name] if self.name else self._find()
        self.name = None
        for name in names:
            self._delete(name)

    def _find(self) -> list[str]:
        token = (self.manifest["metadata"].get("labels") or {}).get(LAUNCH_LABEL)
        if not token:
            return []
        with contextlib.suppress(Exception):
            answer = self.batch.list_namespaced_job(
                self.namespace, label_selector=f"{LAUNCH_LABEL}={token}", _preload_content=False
            )
            return [i["metadata"]["name"] for i in json.loads(answer.data).get("items") or []]
        return []

    def _delete(self, name: str) -> None:
        try:
            self.batch.delete_namespaced_job(
                name, self.namespace, propagation_policy="Background", _preload_content=False
            )
        except Exception as err:
            if getattr(err, "status", None) != 404:
                _say(
                    f"Kubernetes: could not delete Job {self.namespace}/{name} ({err}); "
                    f"delete it with: kubectl delete job -n {self.namespace} {name}"
                )


def missing_grange_hint(log_tail: bytes, image: str) -> str | None:
    """What to do when the pod's image has no grange to bootstrap with (the default
    ``python:X.Y`` image has none): said once, after the pod's own error."""
    if b"No module named grange" not in log_tail.replace(b"'", b""):
        return None
    return (
        f"the image {image} has no grange installed; fix: use an image with "
        "`pip install 'grange[s3,kubernetes]'` (@kubernetes(image=...) or the profile's "
        "[kubernetes] image)"
    )


def _is_api_failure(err: Exception) -> bool:
    """An answer of the API server or a failed connection (not a bug of ours)."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    return isinstance(err, (ApiException, HTTPError, ConnectionError, TimeoutError))


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _on_signal(signum: int, _frame: Any) -> None:
    for sig in _STOP_SIGNALS:  # one stop is enough: clean up undisturbed
        signal.signal(sig, signal.SIG_IGN)
    raise Stopped(signum)


def _die_with_parent() -> None:
    """SIGTERM when the runtime dies (Linux), so that the Job is deleted even then."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grange.compute.kubernetes.follow")
    parser.add_argument("--spec", required=True, help="JSON file: the Job and client settings")
    parser.add_argument("--ready-fd", type=int, default=None)
    parser.add_argument("--parent-pid", type=int, default=None, help="the runtime's pid")
    args = parser.parse_args(argv)
    for sig in _STOP_SIGNALS:
        signal.signal(sig, _on_signal)
    _die_with_parent()
    if args.parent_pid is not None and os.getppid() != args.parent_pid:
        return 1  # the runtime died before we asked to die with it: no Job to start
    follower: Follower | None = None
    try:
        with open(args.spec, encoding="utf-8") as fh:
            spec = json.load(fh)
        follower = Follower(spec, args.ready_fd)
        return follower.run()
    except Stopped as stop:
        if follower is not None:
            follower.delete()
        signal.signal(stop.signum, signal.SIG_DFL)
        os.kill(os.getpid(), stop.signum)
        return 128 + stop.signum
    except (GrangeError, KubernetesError) as err:
        _say(err.render())
        return 1
    finally:
        if follower is not None:
            for sig in _STOP_SIGNALS:
                signal.signal(sig, signal.SIG_IGN)
            follower.delete()


if __name__ == "__main__":
    sys.exit(main())
