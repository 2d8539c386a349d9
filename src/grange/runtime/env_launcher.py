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
import select
import signal
import socket
import sys
from collections.abc import Callable, Mapping, Sequence

from grange.environments.envlock import PreparedEnv
from grange.exceptions import GrangeError
from grange.runtime.launcher import Event, Exited, Launcher, NotStarted, SpawnLauncher, Worker
from grange.runtime.processes import PARENT_PID_ENV, spare
from grange.runtime.zygote import ForkLauncher
from grange.task.spec import TaskSpec

FORK_SERVER_COMMAND = "_fork-server"


def env_variables(prepared: PreparedEnv, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment variables of a process run in ``prepared``'s interpreter."""
    env = dict(os.environ if base is None else base)
    path = [*prepared.pythonpath, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(path))
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
        try:
            self.zygote_pid = os.posix_spawn(argv[0], argv, self._env)
        except OSError:  # seen as a server that died at once: its tasks start afresh
            argv = [sys.executable, "-c", "raise SystemExit(127)"]
            self.zygote_pid = os.posix_spawn(argv[0], argv, self._env)
        finally:
            server_requests.close()
            server_events.close()
        spare(self.zygote_pid)  # another launcher ending its dead tasks' leftovers must not kill it
        self._events.setblocking(False)
        self._requests.setblocking(False)
        self._zygote_status = None

    def _restart(self) -> bool:
        # Another process, not a fork of this one: the runtime's threads do not matter.
        if self._restarts_left <= 0:
            return False
        self._restarts_left -= 1
        self._restarted += 1
        self._start_zygote()
        return True


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
