"""Launching the tasks of steps with their own environment (``@pypi``/``@conda``).

Such a task never forks from the runtime's zygote: it must run in its
environment's interpreter. :class:`EnvLauncher` wraps the run's local launcher
(as :class:`~grange.runtime.kube_launcher.KubeLauncher` does) and sends the tasks
of environment steps to one launcher per environment:

- by default an :class:`EnvForkLauncher`: a fork server started in the
  environment's interpreter when the run starts (``<env python> flow.py
  _fork-server``), which imports the flow as ``step`` does and then serves the
  runtime's zygote protocol (:mod:`grange.runtime.zygote`): the tasks of a
  foreach start in milliseconds. If it cannot start or keeps dying, its tasks
  start in fresh interpreters instead;
- with ``--no-fork`` (``GRANGE_NO_FORK``): fresh interpreters, ``<env python>
  flow.py step ...`` (:class:`SpawnLauncher` with ``python=``).

Either way ``PreparedEnv.pythonpath`` comes first on ``PYTHONPATH``: it makes the
running grange (and its task-path dependencies) importable inside the environment.
A ``@catch`` fallback task runs no user code: it runs in the runtime's launcher.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence

from grange.environments.envlock import PreparedEnv
from grange.exceptions import GrangeError
from grange.runtime.launcher import (
    Event,
    Exited,
    Launcher,
    Notice,
    NotStarted,
    SpawnLauncher,
    Worker,
)
from grange.runtime.processes import PARENT_PID_ENV, SHIM_ENV, spare
from grange.runtime.zygote import ForkLauncher
from grange.task.spec import TaskSpec

FORK_SERVER_COMMAND = "_fork-server"


def env_variables(prepared: PreparedEnv, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment variables of a process run in ``prepared``'s interpreter.

    ``PYTHONPATH`` is the shim alone (grange and its task-path dependencies): the
    caller's would put the host's modules ahead of the environment's packages (a
    ``tabulate.py`` there would shadow the locked one). The user's site-packages
    (``~/.local``) is off too. The process drops the shim from its own
    ``PYTHONPATH`` once started (:func:`~grange.runtime.processes.forget_shim`)."""
    env = dict(os.environ if base is None else base)
    shim = os.pathsep.join(dict.fromkeys(prepared.pythonpath))
    env.pop("PYTHONPATH", None)
    env.pop(SHIM_ENV, None)
    if shim:
        env["PYTHONPATH"] = shim
        env[SHIM_ENV] = shim
    env["PYTHONNOUSERSITE"] = "1"
    env.pop("PYTHONHOME", None)
    env.pop("VIRTUAL_ENV", None)
    return env


class EnvForkLauncher(ForkLauncher):
    """A :class:`ForkLauncher` whose zygote is a fork server started in another
    interpreter (the environment's), talking over the sockets it was handed."""

    # A task is forked (and its Worker reported) once the server has imported the
    # flow: nothing is left to import before the step begins. Fresh interpreters
    # (the fallback) set the allowance of theirs.
    startup_allowance = 0.0

    def __init__(
        self,
        prepared: PreparedEnv,
        *,
        flow_file: str,
        top_level_args: Sequence[str],
        step_args: Sequence[str] = (),
        restarts: int = 1,
    ) -> None:
        self.prepared = prepared
        self.flow_file = flow_file
        self._stderr: int | None = None  # the server's own stderr, kept to explain its death
        self._argv = [
            str(prepared.python),
            flow_file,
            *top_level_args,
            FORK_SERVER_COMMAND,
            *step_args,
        ]
        self._env = env_variables(prepared)
        self._env[PARENT_PID_ENV] = str(os.getpid())

        def fallback() -> Launcher:
            return SpawnLauncher(
                flow_file,
                list(top_level_args),
                env=env_variables(prepared),
                step_args=step_args,
                python=str(prepared.python),
            )

        super().__init__(lambda spec: 1, fallback=fallback, restarts=restarts)

    def _start_zygote(self) -> None:
        self._requests, server_requests = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._events, server_events = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        fds = (server_requests.fileno(), server_events.fileno())
        argv = [*self._argv, "--requests-fd", str(fds[0]), "--events-fd", str(fds[1])]
        for fd in fds:
            os.set_inheritable(fd, True)
        # Its stderr (what importing the flow file printed, a traceback if that
        # failed) goes to a file, read if it dies: said once, and explained.
        if self._stderr is not None:
            os.close(self._stderr)
        self._stderr = _temp_fd()
        actions = [(os.POSIX_SPAWN_DUP2, self._stderr, 2)]
        try:
            self.zygote_pid = os.posix_spawn(argv[0], argv, self._env, file_actions=actions)
        except OSError:  # seen as a server that died at once: its tasks start afresh
            argv = [sys.executable, "-c", "raise SystemExit(127)"]
            self.zygote_pid = os.posix_spawn(argv[0], argv, self._env)
        finally:
            server_requests.close()
            server_events.close()
        self.serving = False
        spare(self.zygote_pid)  # another launcher ending its dead tasks' leftovers must not kill it
        self._events.setblocking(False)
        self._requests.setblocking(False)
        self._zygote_status = None

    def _switch_to_fallback(self, instead: Launcher | None = None) -> list[Event]:
        """The server died. Before it imported the flow file, and because that failed
        (a module the environment lacks, imported at its top): every task of its
        steps fails at once with what is wrong, without restarts (a new server, or
        a fresh interpreter, would fail the same). Otherwise: restarted, or fresh
        interpreters, with what it printed."""
        said = self._server_stderr()
        if not self.serving:
            failure = import_failure(said, self.flow_file)
            if failure is not None:
                instead = _Refusing(self._refusal(failure))
        out = super()._switch_to_fallback(instead)
        if instead is not None:
            return out
        if said.strip():
            tail = "\n".join(said.strip().splitlines()[-12:])
            sha = self.prepared.lock.sha[:12]
            out.insert(0, Notice(f"The fork server of environment {sha} printed:\n{tail}"))
        return out

    def _refusal(self, failure: tuple[str, str]) -> Callable[[TaskSpec], str]:
        where, what = failure
        kind = f"@{self.prepared.lock.kind}"
        if what.startswith("No module named"):
            fix = f"import it inside the steps that use it, or add it to {kind}"
        else:
            fix = f"the flow file's top level also runs in the {kind} environment's Python"

        def reason(spec: TaskSpec) -> str:
            return (
                f"step '{spec.step}': the flow file cannot be imported in its {kind} "
                f"environment ({where}: {what}); {fix}"
            )

        return reason

    def _server_stderr(self) -> str:
        if self._stderr is None:
            return ""
        try:
            size = os.fstat(self._stderr).st_size
            return os.pread(self._stderr, 64 * 1024, max(0, size - 64 * 1024)).decode(
                errors="replace"
            )
        except OSError:
            return ""

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._stderr is not None:
                os.close(self._stderr)
                self._stderr = None

    def _restart(self) -> bool:
        # Another process, not a fork of this one: the runtime's threads do not matter.
        if self._restarts_left <= 0:
            return False
        self._restarts_left -= 1
        self._restarted += 1
        self._start_zygote()
        return True


class _Refusing(Launcher):
    """Fails every task it is asked to start, saying why (``reason(spec)``)."""

    def __init__(self, reason: Callable[[TaskSpec], str]) -> None:
        self.reason = reason
        self._said: list[Event] = []

    def launch(self, spec: TaskSpec) -> None:
        self._said.append(NotStarted(spec, self.reason(spec)))

    def events(self) -> list[Event]:
        out, self._said = self._said, []
        return out

    def flush(self) -> bool:
        return not self._said


_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)')


def import_failure(stderr: str, flow_file: str) -> tuple[str, str] | None:
    """``("flow.py line 1", "No module named 'x'")`` when ``stderr`` ends with the
    traceback of importing ``flow_file`` (its last frame in the flow file), else None."""
    lines = stderr.rstrip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent")]
    if not starts:
        return None
    tail = lines[starts[-1] :]
    flow = os.path.realpath(flow_file)
    where = None
    for line in tail:
        frame = _FRAME.match(line)
        if frame and os.path.realpath(frame["file"]) == flow:
            where = f"{os.path.basename(flow_file)} line {frame['line']}"
    last = tail[-1].strip()
    if where is None or ":" not in last or last.startswith("File "):
        return None
    kind, _, message = last.partition(": ")
    if kind.rsplit(".", 1)[-1] in ("ModuleNotFoundError", "ImportError"):
        return where, message
    return where, last


class EnvLauncher(Launcher):
    """Routes the tasks of environment steps to their environment's launcher."""

    def __init__(
        self,
        inner: Launcher,
        *,
        flow_file: str,
        top_level_args: Sequence[str],
        step_args: Sequence[str] = (),
        fork: bool = True,
    ) -> None:
        self.inner = inner
        self.flow_file = flow_file
        self.top_level_args = list(top_level_args)
        self.step_args = list(step_args)
        self.fork = fork and hasattr(os, "posix_spawn")
        # The largest (for what reads one value); the loop asks allowance(worker).
        self.startup_allowance = max(inner.startup_allowance, SpawnLauncher.startup_allowance)
        self._by_step: dict[str, Launcher] = {}
        self._launchers: dict[str, Launcher] = {}  # lock sha -> its launcher
        self._owner: dict[int, Launcher] = {}  # pid -> the launcher that started it
        self._poll = select.epoll() if hasattr(select, "epoll") else None
        self._watched: set[int] = set()
        # resume: step -> how to build the environment of a step it expected to clone
        # (see grange.runtime.envs), when one of its tasks must run after all.
        self.deferred: dict[str, Callable[[], PreparedEnv]] = {}
        self._said: list[Event] = []  # notices and tasks that could not start

    def use(self, prepared: Mapping[str, PreparedEnv]) -> None:
        """Start a launcher (a fork server, warming up now) for each environment."""
        for step, env in prepared.items():
            sha = env.lock.sha
            if sha not in self._launchers:
                self._launchers[sha] = self._make(env)
            self._by_step[step] = self._launchers[sha]

    def _make(self, prepared: PreparedEnv) -> Launcher:
        if self.fork:
            return EnvForkLauncher(
                prepared,
                flow_file=self.flow_file,
                top_level_args=self.top_level_args,
                step_args=self.step_args,
            )
        return SpawnLauncher(
            self.flow_file,
            self.top_level_args,
            env=env_variables(prepared),
            step_args=self.step_args,
            python=str(prepared.python),
        )

    def launch(self, spec: TaskSpec) -> None:
        if spec.step in self.deferred and "catch" not in spec.extra:
            build = self.deferred.pop(spec.step)
            try:
                self.use({spec.step: build()})
            except GrangeError as error:
                self.deferred[spec.step] = build  # its other tasks say the same
                fix = f"; {error.fix}" if error.fix else ""
                self._said.append(NotStarted(spec, f"{error.message}{fix}"))
                return
        target = self._by_step.get(spec.step)
        if target is None or "catch" in spec.extra:
            self.inner.launch(spec)  # a @catch fallback runs no user code: here
        else:
            target.launch(spec)

    def _all(self) -> list[Launcher]:
        return [self.inner, *self._launchers.values()]

    def events(self) -> list[Event]:
        out, self._said = self._said, []
        for launcher in self._all():
            for event in launcher.events():
                if isinstance(event, Worker):
                    self._owner[event.pid] = launcher
                elif isinstance(event, Exited):
                    self._owner.pop(event.pid, None)
                out.append(event)
        return out

    def wakeup_fd(self) -> int | None:
        """One descriptor for all launchers (an epoll set of theirs); None (the loop
        polls) when one of them has none, or off Linux."""
        if not self._launchers:
            return self.inner.wakeup_fd()
        fds = {launcher.wakeup_fd() for launcher in self._all()}
        if self._poll is None or None in fds:
            return None
        wanted = {fd for fd in fds if fd is not None}
        for fd in self._watched - wanted:
            with contextlib.suppress(OSError):
                self._poll.unregister(fd)
        for fd in wanted:  # a replaced socket may reuse a number epoll dropped on close
            with contextlib.suppress(FileExistsError):
                self._poll.register(fd, select.EPOLLIN)
        self._watched = wanted
        return self._poll.fileno()

    def flush(self) -> bool:
        return all([launcher.flush() for launcher in self._all()]) and not self._said

    def kill(self, worker: Worker, sig: int = signal.SIGKILL) -> None:
        self._owner.get(worker.pid, self.inner).kill(worker, sig)

    def allowance(self, worker: Worker) -> float:
        return self._owner.get(worker.pid, self.inner).allowance(worker)

    def close(self) -> None:
        try:
            for launcher in self._launchers.values():
                with contextlib.suppress(Exception):
                    launcher.close()
        finally:
            if self._poll is not None:
                self._poll.close()
            self.inner.close()


def _temp_fd() -> int:
    """A descriptor of an anonymous temporary file (not inherited by what we spawn)."""
    fd, path = tempfile.mkstemp(prefix="grange-fork-server-")
    os.unlink(path)
    return fd
