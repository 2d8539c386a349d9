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
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grange.task.spec import TaskSpec, frames_to_json

if TYPE_CHECKING:
    import ctypes

# A single argument may not exceed 128 KiB on Linux; big input lists go in a file.
_MAX_INLINE_INPUTS = 32 * 1024


PARENT_PID_ENV = "GRANGE_PARENT_PID"  # set for `step` processes that must die with the runtime


def die_with_parent(parent: int | None = None, sig: int = signal.SIGKILL) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies (best effort
    elsewhere: False).

    With ``parent``, a process whose parent already died before it asked (it was
    re-parented) gets ``sig`` at once.
    """
    libc = _libc()
    if libc is None or not sys.platform.startswith("linux"):
        return False
    try:
        libc.prctl(1, sig)  # PR_SET_PDEATHSIG
    except AttributeError:
        return False
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), sig)
    return True


_PR_SET_CHILD_SUBREAPER = 36
_GUARDED = sys.platform.startswith("linux")  # step processes run under guard_task's guard


def adopt_orphans(on: bool = True) -> bool:
    """Make this process the "subreaper" of its descendants (Linux): a process a
    child of ours leaves behind (``sleep 1000 &`` in a shell it started) becomes
    our child when its parent ends, instead of init's, so that
    :func:`end_children` finds it (``on=False``: no longer). False where this
    is not available."""
    libc = _libc()
    if libc is None or not sys.platform.startswith("linux"):
        return False
    try:
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)) == 0
    except AttributeError:
        return False


def child_pids() -> set[int]:
    """The pids of this process's children (of every thread), from /proc."""
    pids: set[int] = set()
    try:
        threads = os.listdir("/proc/self/task")
    except OSError:
        return pids
    for tid in threads:
        try:
            with open(f"/proc/self/task/{tid}/children", "rb") as fh:
                pids.update(int(p) for p in fh.read().split())
        except OSError:
            continue
    return pids


def end_children(*, keep: frozenset[int] = frozenset()) -> None:
    """Kill and reap every child of this process but ``keep``, and the orphans
    they leave (which come to us with :func:`adopt_orphans`), until none is left."""
    for _ in range(1000):  # a fork bomb must not keep us here forever
        pids = child_pids() - keep
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def guard_task(parent: int) -> None:
    """In a ``step`` process a local runtime started: split into a small guard and
    the task, so that nothing the step starts outlives the task or the runtime.

    The guard (this process, the pid the runtime knows) adopts orphans, forks
    the task and waits. It ends the task and everything under it, then itself
    with the task's status, when the task exits, when the runtime dies
    (SIGTERM, its death signal) or when the runtime stops it (SIGTERM, see
    :meth:`SpawnLauncher.kill`). The task (the child, which returns from here
    and runs the step) dies with the guard and ends its own children at exit.
    Where this is not available (not Linux), the step runs in this process.
    """
    import atexit

    if not adopt_orphans():
        die_with_parent(parent)
        return
    previous = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, _end_guarded),
        signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
    }
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # nohup: stays ignored
        previous[signal.SIGHUP] = signal.signal(
            signal.SIGHUP, _end_guarded
        )  # Ctrl-C reaches the task; the runtime decides
    die_with_parent(parent, signal.SIGTERM)
    sys.stdout.flush()
    sys.stderr.flush()
    task = os.fork()
    if task == 0:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        die_with_parent(os.getppid())
        adopt_orphans()
        atexit.register(end_children)
        return
    while True:
        try:
            _pid, status = os.waitpid(task, 0)
            break
        except ChildProcessError:
            status = 0
            break
    end_children()
    if os.WIFSIGNALED(status):
        _die_by(os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status))


def _end_guarded(_signum: int, _frame: object) -> None:
    """The guard was told to stop (or its runtime died): end the task and all under it."""
    end_children()
    _die_by(signal.SIGKILL)


def _die_by(sig: int) -> None:
    with contextlib.suppress(OSError, ValueError):  # SIGKILL has no handler to reset
        signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
    os._exit(128 + sig)  # a signal that does not kill (SIGSTOP): never reached otherwise


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, loaded once per process (forked tasks inherit it)."""
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


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
    ) -> None:
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
            sys.executable,
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
                killed = killed or code < 0
        if killed and self._adopting:
            end_children(keep=self._own_children | set(self._procs))
        return done

    def kill(self, worker: Worker, sig: int = signal.SIGKILL) -> None:
        """SIGTERM to the step's guard (:func:`guard_task`), which ends the task and
        what it started, then itself with SIGKILL; SIGKILL would leave those behind."""
        super().kill(worker, signal.SIGTERM if sig == signal.SIGKILL and _GUARDED else sig)

    def close(self) -> None:
        for proc in self._procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM if _GUARDED else signal.SIGKILL)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
        if self._adopting:
            end_children(keep=self._own_children)
            adopt_orphans(False)
            self._adopting = False
