"""Tasks of ``@kubernetes`` steps (or of every step, with ``--with kubernetes``) as Kubernetes Jobs.

:class:`KubeLauncher` wraps the run's usual launcher: a task of a Kubernetes
step starts a small follower process (:mod:`grange.compute.kubernetes.follow`)
that creates its Job, streams the pod's log to its stdout and exits with the
container's exit code; other tasks (and ``@catch`` fallbacks, which run no user
code) go to the inner launcher. The runtime sees followers as ordinary task
processes: it reads their output, retries per ``@retry`` (one Job per attempt)
and stops them on ``@timeout`` or Ctrl-C (SIGTERM: the follower deletes its Job).

A follower becomes a worker for the runtime once its container runs, so that
``@timeout`` counts from then, not from the image pull. The pod runs the code
package of the run (``grange.environments.bootstrap``), built when the run
starts and stored before its first pod. Pods cannot read a datastore on this machine's disk: a local
datastore is refused unless the profile says the pods share this filesystem
(``[kubernetes] shared_filesystem = true``, as the tests' fake cluster does).

A step with a ``@pypi``/``@conda`` environment gets its lock (resolved for the
pods' platform and stored in the datastore by the runtime): the pod's bootstrap
is given ``--env-lock-url``/``--env-lock-sha`` and rebuilds the environment from
it (:mod:`grange.environments.podenv`); with ``wheels_in_datastore`` the lock's
packages are stored in the datastore before the step's first pod, and the pod
installs them from there, with no index.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping, Set
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from grange.decorators.options import TaskOptions
from grange.exceptions import GrangeError, KubernetesError
from grange.runtime.configs import pod_configs_env
from grange.runtime.launcher import Event, Exited, Launcher, NotStarted, SpawnLauncher, Worker
from grange.runtime.processes import spare, unspare
from grange.task.spec import TaskSpec

BOOTSTRAP = ["python", "-m", "grange.environments.bootstrap"]
# Seconds a pod may take from its container's start to its step's start: download
# and unpack the code package, start Python, import the flow.
DEFAULT_STARTUP_ALLOWANCE = 60.0
# A command line argument may not exceed 128 KiB on Linux (the pod's as well).
_MAX_ARG = 120 * 1024


@dataclass
class _Follower:
    spec: TaskSpec
    proc: subprocess.Popen[bytes]
    ready: int  # read end of the follower's ready pipe; -1 once it said so
    stdout: int
    stderr: int
    files: list[str]


def kubernetes_steps(options: Mapping[str, TaskOptions]) -> set[str]:
    return {step for step, o in options.items() if o.kubernetes is not None}


class KubeLauncher(Launcher):
    """See the module docstring."""

    def __init__(
        self,
        inner: Launcher,
        *,
        flow: str,
        flow_file: str,
        options: Mapping[str, TaskOptions],
        top_level_args: list[str],
        step_args: list[str],
        package: Any,  # grange.environments.package.Package, built
        datastore_root: Any,  # DatastoreLocation, where the package is stored
        settings: Mapping[str, Any],
        environments: Mapping[str, tuple[str, str]] | None = None,
        env_settings: Any = None,  # EnvSettings: the profile's [environments]
    ) -> None:
        self.inner = inner
        self.flow = flow
        self.flow_file = flow_file
        self.options = dict(options)
        self.steps = kubernetes_steps(options)
        self.top_level_args = top_level_args
        self.step_args = step_args
        self.package = package
        self.datastore_root = datastore_root
        self._ref: Any = None  # its PackageRef, once stored
        # step -> (lock URL, lock sha) of the steps with an environment
        self.environments = dict(environments or {})
        self.env_settings = env_settings
        self._stored_locks: set[str] = set()  # steps whose lock's packages are stored
        self.settings = dict(settings)
        self.pod_allowance = float(settings.get("startup_allowance") or DEFAULT_STARTUP_ALLOWANCE)
        # The larger, for what reads one value; the runtime asks allowance(worker).
        self.startup_allowance = max(inner.startup_allowance, self.pod_allowance)
        self._followers: dict[int, _Follower] = {}
        self._events: list[Event] = []
        self._configs_env = pod_configs_env()  # too big for a pod: said before the run starts
        self._follower_env = dict(os.environ)
        from grange.config.export import pod_env

        self._profile_env = pod_env(os.environ.get("GRANGE_PROFILE"), os.environ)
        if self._follower_env.get("KUBECONFIG"):  # paths relative to here, made absolute
            paths = self._follower_env["KUBECONFIG"].split(os.pathsep)
            self._follower_env["KUBECONFIG"] = os.pathsep.join(
                os.path.abspath(p) for p in paths if p
            )

    # -- launching ----------------------------------------------------------------------

    def launch(self, spec: TaskSpec) -> None:
        if spec.step not in self.steps or "catch" in spec.extra:
            self.inner.launch(spec)  # a @catch fallback runs no user code: here
            return
        try:
            job, files = self._job(spec)
        except (GrangeError, OSError) as err:
            self._events.append(NotStarted(spec, str(err)))
            return
        spec_file = _write_temp(
            json.dumps({"job": job, "settings": self._client_settings(), **self._timeouts()})
        )
        files.append(spec_file)
        ready_r, ready_w = os.pipe()
        cmd = [
            sys.executable,
            "-m",
            "grange.compute.kubernetes.follow",
            "--spec",
            spec_file,
            "--ready-fd",
            str(ready_w),
            "--parent-pid",
            str(os.getpid()),
        ]
        try:
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                pass_fds=(ready_w,),
                env=self._follower_env,
                cwd=os.path.abspath(os.sep),  # a module here must not shadow one it imports
            )
        except OSError as err:
            os.close(ready_r)  # ready_w: closed below, once
            _remove(files)
            self._events.append(NotStarted(spec, f"could not start the task's follower: {err}"))
            return
        finally:
            with contextlib.suppress(OSError):
                os.close(ready_w)
        spare(proc.pid)  # another launcher ending its tasks' leftovers must not kill it
        assert proc.stdout is not None and proc.stderr is not None
        out, err_fd = os.dup(proc.stdout.fileno()), os.dup(proc.stderr.fileno())
        proc.stdout.close()
        proc.stderr.close()
        self._followers[proc.pid] = _Follower(spec, proc, ready_r, out, err_fd, files)

    def _job(self, spec: TaskSpec) -> tuple[dict[str, Any], list[str]]:
        from grange.compute.kubernetes.job import LAUNCH_LABEL, generate_name, job_manifest
        from grange.compute.kubernetes.pod import plan_pod

        # The step command as a fresh interpreter would run it (SpawnLauncher.command).
        shape = SimpleNamespace(
            flow_file=self.flow_file,
            top_level_args=self.top_level_args,
            step_args=self.step_args,
            python=sys.executable,  # the pod's is its image's (cmd[0] is dropped below)
        )
        cmd, files = SpawnLauncher.command(shape, spec)  # type: ignore[arg-type]
        if "--input-paths-file" in cmd:  # a pod cannot read this machine's file
            at = cmd.index("--input-paths-file")
            with open(cmd[at + 1], encoding="utf-8") as fh:
                inputs = fh.read()
            _remove(files)
            files = []
            if len(inputs) > _MAX_ARG:
                raise KubernetesError(
                    f"step '{spec.step}' joins {inputs.count(',') + 1} tasks: their list is too "
                    "long for a pod's command line"
                )
            cmd[at : at + 2] = ["--input-paths", inputs]
        ref = self._stored_package()
        args = ["--package-url", ref.url, "--package-sha", ref.sha, "--flow-file", ref.flow_file]
        if spec.step in self.environments:
            url, sha = self.environments[spec.step]
            self._stored_lock_packages(spec.step, url)
            args += ["--env-lock-url", url, "--env-lock-sha", sha]
        args += ["--", *cmd[2:]]
        options = self.options[spec.step]
        plan = plan_pod(
            spec.step,
            options,
            command=BOOTSTRAP,
            args=args,
            env=self._env(spec),
            defaults=self.settings,
        )
        deadline = None
        if options.timeout:  # a guard: the runtime stops the attempt well before
            deadline = math.ceil(options.timeout + self.pod_allowance) + 60
        labels = {
            "app.kubernetes.io/managed-by": "grange",
            "grange.dev/flow": self.flow,
            "grange.dev/run": spec.run_id,
            "grange.dev/step": spec.step,
            "grange.dev/task": spec.task_id,
            "grange.dev/attempt": str(spec.attempt),
            "grange.dev/user": spec.user,
            LAUNCH_LABEL: uuid.uuid4().hex,
        }
        plan.annotations.setdefault(
            "grange.dev/pathspec", f"{self.flow}/{spec.run_id}/{spec.step}/{spec.task_id}"
        )
        job = job_manifest(
            plan,
            name=generate_name(self.flow, spec.step),
            labels=labels,
            active_deadline_seconds=deadline,
        )
        return job, files

    def _stored_package(self) -> Any:
        """The package's ref, stored in the datastore at the first call (the runtime
        has opened its stores by then: no S3 client before the fork server)."""
        if self._ref is None:
            from grange.environments.package import store_package

            location = self.datastore_root
            self._ref = store_package(location.open(), location, self.flow, self.package)
        return self._ref

    def _stored_lock_packages(self, step: str, url: str) -> None:
        """With ``wheels_in_datastore``: the packages of the step's lock in the datastore
        (once per step of the run; a package stored already is not downloaded again).
        Without, unless the pods share this disk: no package of the lock may come from
        this machine's disk (an EnvError naming it)."""
        settings = self.env_settings
        if step in self._stored_locks or settings is None:
            return
        stored = settings.wheels_in_datastore or settings.pod_offline
        if stored or not self.settings.get("shared_filesystem"):
            from grange.environments import manager
            from grange.environments.podenv import (
                check_reachable,
                split_lock_url,
                store_lock_packages,
            )

            blobs = self.datastore_root.open()
            lock = manager.load_lock(blobs, split_lock_url(url)[1])
            if stored:
                store_lock_packages(blobs, lock, settings, step=step)
            else:  # the pods install from the lock's URLs: none may be on this disk
                check_reachable(lock, step=step)
        self._stored_locks.add(step)

    def _env(self, spec: TaskSpec) -> dict[str, str]:
        env = {k: str(v) for k, v in spec.extra.get("env", {}).items()}
        # The profile's S3 settings (endpoints, timeouts): never credentials, which
        # pods get from the cluster (a service account's role, or secrets=...).
        # The profile in force, alone, and its @secrets policy, so that checks made inside
        # the task (grange.S3, @secrets) see the same rules as here.
        env.update(
            {k: v for k, v in os.environ.items() if k.startswith(("GRANGE_S3_", "GRANGE_SECRETS_"))}
        )
        env.update(self._profile_env)
        env.update(self._configs_env)  # the run's configs: a pod has no config.json
        env["PYTHONUNBUFFERED"] = "1"
        env["GRANGE_USER"] = spec.user
        if spec.step in self.environments and self.env_settings is not None:
            from grange.environments.podenv import pod_env
            from grange.environments.settings import CACHE_ENV

            env.update(pod_env(self.env_settings, self.datastore_root))
            if self.settings.get("shared_filesystem"):  # the pods share this machine's disk
                env[CACHE_ENV] = str(self.env_settings.cache_dir)
        return env

    def _client_settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: self.settings[k] for k in ("context", "in_cluster") if k in self.settings
        }
        if self.settings.get("kubeconfig"):  # the follower runs elsewhere: an absolute path
            path = os.path.expanduser(str(self.settings["kubeconfig"]))
            out["kubeconfig"] = os.path.abspath(path)
        return out

    def _timeouts(self) -> dict[str, Any]:
        value = self.settings.get("unschedulable_timeout")
        return {"unschedulable_timeout": value} if value is not None else {}

    # -- following ----------------------------------------------------------------------

    def events(self) -> list[Event]:
        out = self.inner.events() + self._events
        self._events = []
        waiting = {f.ready: f for f in self._followers.values() if f.ready >= 0}
        readable = set(select.select(list(waiting), [], [], 0)[0]) if waiting else set()
        for pid, f in list(self._followers.items()):
            code = f.proc.poll()
            if f.ready >= 0 and (f.ready in readable or code is not None):
                os.close(f.ready)
                f.ready = -1
                out.append(Worker(f.spec, pid, f.stdout, f.stderr, cleanup=f.files))
            if code is not None and f.ready < 0:
                del self._followers[pid]
                unspare(pid)
                out.append(Exited(pid, code))
        return out

    def wakeup_fd(self) -> int | None:
        # Followers are polled (every 50 ms while any is alive), the inner launcher too.
        return None if self._followers else self.inner.wakeup_fd()

    def flush(self) -> bool:
        return self.inner.flush()

    def allowance(self, worker: Worker) -> float:
        return self.pod_allowance if worker.pid in self._followers else self.inner.allowance(worker)

    def kill(self, worker: Worker, sig: int = signal.SIGKILL) -> None:
        if worker.pid in self._followers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGTERM)  # it deletes its Job, then dies of it
            return
        self.inner.kill(worker, sig)

    def close(self) -> None:
        for f in self._followers.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(f.proc.pid, signal.SIGTERM)
        for f in self._followers.values():
            try:
                f.proc.wait(timeout=30)  # deleting a Job takes one API call
            except subprocess.TimeoutExpired:
                f.proc.kill()
                f.proc.wait()
            if f.ready >= 0:
                os.close(f.ready)
                for fd in (f.stdout, f.stderr):
                    with contextlib.suppress(OSError):
                        os.close(fd)
            _remove(f.files)
            unspare(f.proc.pid)
        self._followers.clear()
        self.inner.close()


def _write_temp(text: str) -> str:
    fd, path = tempfile.mkstemp(prefix="grange-job-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def _remove(paths: list[str]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            os.unlink(path)


@dataclass
class KubernetesRun:
    """What a run with Kubernetes steps checked before it started (see :func:`prepare`)."""

    steps: set[str]
    settings: dict[str, Any]
    env_settings: Any = None  # EnvSettings: the profile's [environments]

    def wrap(
        self,
        inner: Launcher,
        *,
        flow: str,
        flow_file: str,
        datastore_root: Any,
        options: Mapping[str, TaskOptions],
        top_level_args: list[str],
        step_args: list[str],
        suffixes: tuple[str, ...] = (),
        environments: Mapping[str, tuple[str, str]] | None = None,
    ) -> KubeLauncher:
        """The launcher of the run, with the run's code package (the run records the
        same one: same files, same bytes, stored once). ``environments``: the
        ``(lock URL, lock sha)`` of each Kubernetes step with an environment, its
        lock resolved for the pods' platform and stored in the datastore."""
        from grange.environments.package import build_package

        # Built now (a flow directory that cannot be packed stops the run before it
        # starts), stored at the first pod: after the run's index is open, which a
        # datastore holding something already would otherwise rebuild, saying so.
        exclude = [str(datastore_root.path)] if datastore_root.is_local else []
        package = build_package(flow_file, flow, suffixes, exclude=exclude)
        return KubeLauncher(
            inner,
            flow=flow,
            flow_file=flow_file,
            options=options,
            top_level_args=top_level_args,
            step_args=step_args,
            package=package,
            datastore_root=datastore_root,
            settings=self.settings,
            environments=environments,
            env_settings=self.env_settings,
        )


def prepare(
    options: Mapping[str, TaskOptions], *, datastore_root: Any, gangs: Set[str] = frozenset()
) -> KubernetesRun | None:
    """None if no step runs on Kubernetes; else check, before the run starts, that
    its pods can work: the client is configured, every step's pod is valid and its
    image allowed by the profile, and the datastore is one pods can reach.
    ``gangs``: the ``@parallel`` steps, whose tasks must reach each other."""
    steps = kubernetes_steps(options)
    if not steps:
        return None
    for step in sorted(steps & gangs):
        raise KubernetesError(
            f"step '{step}' is @parallel: its tasks must reach each other, which the Jobs "
            "of a local run cannot do yet",
            step=step,
            fix="run it without @kubernetes (or without --with kubernetes), or deploy the "
            "flow with argo-workflows create",
        )
    from grange.compute.kubernetes.api import load_client
    from grange.compute.kubernetes.pod import check_plan_image, plan_pod
    from grange.compute.kubernetes.settings import check_settings
    from grange.config.active import active

    profile = active()
    settings = dict(profile.kubernetes)
    check_settings(settings)
    if datastore_root.is_local and not settings.get("shared_filesystem"):
        raise KubernetesError(
            f"steps {', '.join(sorted(steps))} run on Kubernetes, but the datastore "
            f"{datastore_root} is on this machine's disk, which pods cannot read",
            fix="use an S3 datastore (--datastore-root s3://BUCKET/PREFIX, or a profile's "
            "datastore_root); only if every node mounts this path, set [kubernetes] "
            "shared_filesystem = true in the profile",
        )
    for step in sorted(steps):
        plan = plan_pod(step, options[step], command=BOOTSTRAP, defaults=settings)
        check_plan_image(plan, profile.policy, step)
    load_client(settings)  # fails now, clearly, if there is no cluster configuration
    env_settings = None
    if any(options[step].environment is not None for step in steps):
        from grange.environments.settings import EnvSettings

        env_settings = EnvSettings.from_table(profile.environments, os.environ)
    return KubernetesRun(steps, settings, env_settings)
