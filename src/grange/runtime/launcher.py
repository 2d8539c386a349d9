"""Starting task processes: the :class:`Launcher` seam and the fresh-interpreter launcher.

A launcher starts one OS process per task attempt and hands the runtime a
:class:`Worker`: the process id and the read ends of its stdout and stderr.
The runtime's event loop reads those pipes and learns of exits through
:meth:`Launcher.exits`. Two launchers exist: :class:`~grange.runtime.zygote.ForkLauncher`
(default: fork from a pre-warmed process, milliseconds per task) and
:class:`SpawnLauncher` (a fresh ``python flow.py step ...``, for steps that need
another interpreter or where forking is unsafe).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from grange.runtime.processes import (
    GUARDED,
    PARENT_PID_ENV,
    adopt_orphans,
    child_pids,
    end_children,
    spare,
    unspare,
)
from grange.task.spec import TaskSpec, frames_to_json

# A single argument may not exceed 128 KiB on Linux; big input lists go in a file.
_MAX_INLINE_INPUTS = 32 * 1024


@dataclass
class Worker:
    """A running task process as the runtime sees it."""

    spec: TaskSpec
    pid: int
    stdout: int  # read end of the task's stdout pipe
    stderr: int
    exit_code: int | None = None
    cleanup: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Exited:
    """A worker process ended; ``code`` is negative (``-signal``) if it was killed.

    ``lost``: the end was not seen, the launcher lost track of the process (its
    fork server died) and killed it; a record the task committed still counts.
    """

    pid: int
    code: int
    lost: bool = False


@dataclass(frozen=True)
class Notice:
    """Something the user should know about how tasks are launched (printed as is)."""

    text: str


@dataclass(frozen=True)
class NotStarted:
    """A task whose process could not be started (no pid: it never ran)."""

    spec: TaskSpec
    reason: str


Event = Worker | Exited | Notice | NotStarted


class Launcher(ABC):
    """Starts, watches and stops task processes.

    :meth:`launch` returns at once; the :class:`Worker` (with its pid and
    pipes) and later its :class:`Exited` arrive through :meth:`events`, in
    that order for any one task.
    """

    # Seconds a task may spend starting (importing the flow) before its step
    # begins: the runtime's @timeout backstop waits this much longer.
    startup_allowance: float = 0.0

    def allowance(self, worker: Worker) -> float:
        """The startup allowance of ``worker`` (a launcher routing tasks to others
        answers for the one that started it)."""
        return self.startup_allowance

    @abstractmethod
    def launch(self, spec: TaskSpec) -> None:
        """Ask for the task of ``spec`` to start."""

    @abstractmethod
    def events(self) -> list[Event]:
        """Workers started, exited or that could not start since the last call (and notices)."""

    def wakeup_fd(self) -> int | None:
        """A descriptor that becomes readable when :meth:`events` has news."""
        return None

    def flush(self) -> bool:
        """Push out launch requests still queued; True when none is left."""
        return True

    def kill(self, worker: Worker, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, sig)

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release what the launcher holds (the fork server, temp files)."""


class SpawnLauncher(Launcher):
    """Runs each task as ``python <flow file> step ...`` in a fresh interpreter."""

    startup_allowance = 10.0  # a fresh interpreter imports the flow and its libraries first

    def __init__(
        self,
        flow_file: str,
        top_level_args: list[str],
        env: dict[str, str] | None = None,
        *,
        step_args: Sequence[str] = (),
        python: str | None = None,
    ) -> None:
        self.python = python or sys.executable  # another one: a step's environment's
        self.flow_file = flow_file
        self.top_level_args = top_level_args
        self.env = env
        self.step_args = list(step_args)  # options of every `step` command (run-wide limits)
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._started: list[Event] = []
        # A task killed from outside leaves what it started to us (not to init).
        self._own_children = frozenset(child_pids())
        self._adopting = adopt_orphans()

    def command(self, spec: TaskSpec) -> tuple[list[str], list[str]]:
        """The command line of ``spec`` and temp files to delete afterwards."""
        cmd = [
            self.python,
            self.flow_file,
            *self.top_level_args,
            "step",
            spec.step,
            "--run-id",
            spec.run_id,
            "--task-id",
            spec.task_id,
            "--retry-count",
            str(spec.attempt),
            *self.step_args,
        ]
        cleanup: list[str] = []
        inputs = ",".join(spec.input_paths)
        if len(inputs) > _MAX_INLINE_INPUTS:
            fd, path = tempfile.mkstemp(prefix="grange-inputs-", suffix=".txt")
            with os.fdopen(fd, "w") as fh:
                fh.write(inputs)
            cmd += ["--input-paths-file", path]
            cleanup.append(path)
        elif inputs:
            cmd += ["--input-paths", inputs]
        if spec.frames:
            cmd += ["--split-frames", frames_to_json(spec.frames)]
        if spec.iteration:
            cmd += ["--iteration", str(spec.iteration)]
        if spec.origin_run_id:
            cmd += ["--origin-run-id", spec.origin_run_id]
        for tag in spec.tags:
            cmd += ["--tag", tag]
        if spec.namespace:
            cmd += ["--namespace", spec.namespace]
        if spec.max_user_retries:
            cmd += ["--max-user-retries", str(spec.max_user_retries)]
        if spec.extra:  # environment, timeout, --with, @catch fallback
            cmd += ["--task-extra", json.dumps(spec.extra, separators=(",", ":"))]
        return cmd, cleanup

    def launch(self, spec: TaskSpec) -> None:
        cmd, cleanup = self.command(spec)
        env = dict(self.env if self.env is not None else os.environ)
        # @environment and assigned GPUs from the start: also for what the flow file imports.
        env.update({k: str(v) for k, v in spec.extra.get("env", {}).items()})
        env["PYTHONUNBUFFERED"] = "1"
        env["GRANGE_USER"] = spec.user
        env[PARENT_PID_ENV] = str(os.getpid())  # the task dies with the runtime
        try:
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        except OSError as error:  # out of processes, memory or descriptors
            for path in cleanup:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            reason = f"could not start the task's process: {error}"
            self._started.append(NotStarted(spec, reason))
            return
        assert proc.stdout is not None and proc.stderr is not None
        self._procs[proc.pid] = proc
        spare(proc.pid)  # not for another launcher to end with its dead tasks' leftovers
        out, err = os.dup(proc.stdout.fileno()), os.dup(proc.stderr.fileno())
        proc.stdout.close()
        proc.stderr.close()
        self._started.append(Worker(spec, proc.pid, out, err, cleanup=cleanup))

    def events(self) -> list[Event]:
        done: list[Event] = list(self._started)
        self._started = []
        killed = False
        for pid, proc in list(self._procs.items()):
            code = proc.poll()
            if code is not None:
                done.append(Exited(pid, code))
                del self._procs[pid]
                unspare(pid)
                killed = killed or code < 0
        if killed and self._adopting:
            end_children(keep=self._own_children | set(self._procs))
        return done

    def kill(self, worker: Worker, sig: int = signal.SIGKILL) -> None:
        """SIGTERM to the step's guard (:func:`guard_task`), which ends the task and
        what it started, then itself with SIGKILL; SIGKILL would leave those behind."""
        super().kill(worker, signal.SIGTERM if sig == signal.SIGKILL and GUARDED else sig)

    def close(self) -> None:
        for proc in self._procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM if GUARDED else signal.SIGKILL)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            unspare(proc.pid)
        self._procs.clear()
        if self._adopting:
            end_children(keep=self._own_children)
            adopt_orphans(False)
            self._adopting = False
