"""Fork-based task launch: a pre-warmed "zygote" process forks one child per task.

The zygote is forked from the runtime right after the flow module is imported
and before the runtime opens databases, starts threads or draws the terminal,
so every task starts from a clean, single-threaded process that has already
imported grange, the flow and its libraries: a task starts in about a
millisecond instead of the ~0.3 s a fresh interpreter costs.

Caveats (also in docs/running.md): code that runs at import time of the
flow module runs once, in the runtime, before the fork; threads started at
import time do not exist in the tasks; a CUDA context created at import time
is not usable after fork, so initialise GPUs inside steps; ``random`` is
reseeded in every task, and NumPy's legacy global generator too. Set
``GRANGE_NO_FORK=1`` (or ``--no-fork``) to use fresh interpreters instead.

Protocol, in fixed binary frames because the zygote handles one of each per
task: the runtime sends ``(request id, length)`` and the task spec's JSON on a
stream socket; the zygote forks without reading the spec (the child parses
it) and answers on a datagram socket with ``("p", request id, pid)`` plus the
read ends of the child's stdout/stderr pipes (SCM_RIGHTS), ``("x", pid,
exit code)`` when a child ends, and ``("f", request id, errno)`` for a task
it could not fork.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import random
import selectors
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager

from grange.datastore.s3 import connect as s3_connect
from grange.runtime.forking import task_fork
from grange.runtime.launcher import Event, Exited, Launcher, Notice, NotStarted, Worker
from grange.runtime.processes import (
    adopt_orphans,
    child_pids,
    die_with_parent,
    end_children,
    spare,
    unspare,
)
from grange.task.spec import TaskSpec

TaskEntry = Callable[[TaskSpec], int]  # runs one task in the current process, returns exit code
_REQUEST = struct.Struct("=II")  # request id, length of the spec's JSON that follows
# b"p", request, pid | b"x", pid, exit code | b"f", request, errno | b"r", 0, 0 (ready)
_EVENT = struct.Struct("=cii")
MAX_RESTARTS = 3  # then fresh interpreters: a zygote that keeps dying is not worth forking


class ForkLauncher(Launcher):
    """Launches tasks by asking a forked zygote to fork them.

    If the zygote dies (killed, out of memory), the tasks it was running die
    with it: they are reported as exited with SIGKILL, so the run's retry
    policy applies to them. A new zygote is forked from the runtime for the
    tasks asked for but not yet started and every later one; after
    ``restarts`` such restarts (or when the runtime has other threads to
    pause), they start through ``fallback()`` (fresh interpreters) instead.
    """

    def __init__(
        self,
        entry: TaskEntry,
        *,
        fallback: Callable[[], Launcher] | None = None,
        restarts: int = MAX_RESTARTS,
    ) -> None:
        self._entry = entry
        self._restarts_left = restarts
        self._restarted = 0
        # How to stop the runtime's own threads (the live view) around a
        # restart: a fork must not copy a lock another thread holds.
        self.pause_threads: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext
        self._outbox = bytearray()  # requests not yet accepted by the socket
        self._requested: dict[int, TaskSpec] = {}
        self._next_request = 0
        self._running: set[int] = set()  # tasks the zygote started that have not exited
        self._make_fallback = fallback
        self._fallback: Launcher | None = None
        # SIGHUP as the runtime had it before the run (ignored under nohup): a
        # restarted zygote is forked while the runtime handles it itself.
        self._hangup = signal.getsignal(signal.SIGHUP)
        if self._hangup is None:  # set outside Python: leave it to the default
            self._hangup = signal.SIG_DFL
        # What the tasks of a zygote that died leave behind comes to the runtime
        # (not to init), to be ended; children it had before are not ours.
        self._own_children = frozenset(child_pids())
        self._adopting = adopt_orphans()
        self._start_zygote()

    def _start_zygote(self) -> None:
        self._requests, zygote_requests = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._events, zygote_events = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the zygote
            # What the runtime left to collect is not ours to finalize (open files!):
            # no collection until serve() freezes it all.
            collecting = gc.isenabled()
            gc.disable()
            code = 0
            try:
                self._requests.close()
                self._events.close()
                zygote = _Zygote(zygote_requests, zygote_events, self._entry, self._hangup)
                gc.freeze()
                if collecting:
                    gc.enable()
                zygote.serve()
            except BaseException:
                code = 1
                with contextlib.suppress(BaseException):  # a bug in grange: say where
                    traceback.print_exc()
            finally:
                # The runtime is gone or done: no task, nor what a task started, outlives it.
                with contextlib.suppress(BaseException):
                    end_children()
                os._exit(code)
        zygote_requests.close()
        zygote_events.close()
        self.zygote_pid = pid
        spare(pid)  # another launcher ending its dead tasks' leftovers must not kill it
        self._events.setblocking(False)
        self._requests.setblocking(False)
        self._zygote_status: int | None = None  # wait status, once the zygote is gone
        self.serving = False  # said so (b"r"): only fork servers of environments do

    def launch(self, spec: TaskSpec) -> None:
        if self._fallback is not None:
            self._fallback.launch(spec)
            return
        self._next_request += 1
        self._requested[self._next_request] = spec
        payload = spec.to_json().encode()
        self._outbox += _REQUEST.pack(self._next_request, len(payload)) + payload
        self.flush()

    def flush(self) -> bool:
        """Send what the socket takes now, never blocking: the zygote may itself be
        waiting for us to read its events, so a blocking send could deadlock."""
        if self._fallback is not None:
            return self._fallback.flush()
        while self._outbox:
            try:
                sent = self._requests.send(self._outbox)
            except BlockingIOError:
                return False
            except OSError:  # the zygote is gone; events() notices and switches
                return True
            del self._outbox[:sent]
        return True

    def wakeup_fd(self) -> int | None:
        return self._events.fileno() if self._fallback is None else self._fallback.wakeup_fd()

    def events(self) -> list[Event]:
        if self._fallback is not None:
            return self._fallback.events()
        self.flush()
        out = self._read_events()
        # A datagram socket shows no end of file when its peer dies: ask the process.
        if self._zygote_gone():
            out += self._read_events()  # what it sent before dying is all queued now
            out += self._switch_to_fallback()
        return out

    def _read_events(self) -> list[Event]:
        out: list[Event] = []
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self._events, _EVENT.size, 2)
            except BlockingIOError:
                return out
            kind, a, b = _EVENT.unpack(data)
            if kind == b"p":
                self._running.add(b)
                out.append(Worker(self._requested.pop(a), b, fds[0], fds[1]))
            elif kind == b"x":
                self._running.discard(a)
                out.append(Exited(a, b))
            elif kind == b"r":  # a fork server of another interpreter imported the flow
                self.serving = True
            else:  # b"f": the zygote could not fork
                reason = f"could not start the task's process: {os.strerror(b)}"
                out.append(NotStarted(self._requested.pop(a), reason))

    def _zygote_gone(self) -> bool:
        try:
            pid, status = os.waitpid(self.zygote_pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.zygote_pid, 0
        if pid == 0:
            return False
        unspare(self.zygote_pid)
        self._zygote_status = status
        return True

    def _switch_to_fallback(self, instead: Launcher | None = None) -> list[Event]:
        """The zygote died: its tasks died with it. Start a new one (or, after
        :data:`MAX_RESTARTS`, fresh interpreters) and relaunch what was asked.
        ``instead``: no restart, no notice; that launcher takes every task now."""
        status = self._zygote_status or 0
        how = (
            f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
            if os.WIFSIGNALED(status)
            else f"exited with code {os.waitstatus_to_exitcode(status)}"
        )
        lost = sorted(self._running)
        said = (
            f"The fork server that starts tasks stopped unexpectedly ({how}); "
            f"{len(lost)} task(s) it was running died with it."
        )
        # They die with it (PR_SET_PDEATHSIG), and init reaps them: not ours to
        # kill, their pids may be reused already.
        out: list[Event] = [Exited(pid, -signal.SIGKILL, lost=True) for pid in lost]
        self._running.clear()
        waiting = [self._requested[r] for r in sorted(self._requested)]
        self._requested.clear()
        self._outbox.clear()
        self._events.close()
        self._requests.close()
        end_children(keep=self._own_children)  # the dead tasks, and what they started
        if instead is not None:
            self._fallback = instead
            for spec in waiting:
                instead.launch(spec)
            return out + instead.events()
        if self._restart():
            out.insert(0, Notice(f"{said} A new one was started."))
            for spec in waiting:
                self.launch(spec)
            return out
        if self._make_fallback is None:
            raise RuntimeError(f"the grange fork server stopped unexpectedly ({how})")
        self._fallback = self._make_fallback()
        self.startup_allowance = self._fallback.startup_allowance
        restarted = (
            f" It was restarted {self._restarted} time(s) already." if self._restarted else ""
        )
        out.insert(
            0,
            Notice(
                f"{said}{restarted} The remaining tasks start in fresh interpreters, "
                "as with --no-fork."
            ),
        )
        for spec in waiting:
            self._fallback.launch(spec)
        out += self._fallback.events()
        return out

    def _restart(self) -> bool:
        """Start a new zygote, unless restarts are used up or unsafe (other threads,
        or an S3 client's native threads: its children would hang on their first request)."""
        if self._restarts_left <= 0 or s3_connect.started_here():
            return False
        with self.pause_threads():
            if threading.active_count() != 1:
                return False
            self._restarts_left -= 1
            self._restarted += 1
            self._start_zygote()
        return True

    def close(self) -> None:
        if self._fallback is not None:
            self._fallback.close()
        with contextlib.suppress(OSError):
            self._requests.close()  # the zygote reads the end of its requests and exits
        deadline = time.monotonic() + 5
        while self._zygote_status is None and not self._zygote_gone():
            # It may be blocked sending events nobody reads any more: read them.
            for event in self._read_events():
                if isinstance(event, Worker):
                    os.close(event.stdout)
                    os.close(event.stderr)
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.zygote_pid, signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.01)
        self._events.close()
        if self._adopting:
            end_children(keep=self._own_children)  # left by tasks of fresh interpreters
            adopt_orphans(False)


class _Zygote:
    """The loop inside the zygote process."""

    def __init__(
        self, requests: socket.socket, events: socket.socket, entry: TaskEntry, hangup: object
    ) -> None:
        self.hangup = hangup  # what SIGHUP does in tasks: as in the runtime before the run
        self.requests = requests
        self.events = events
        self.entry = entry
        self.buffer = b""
        self.fork = task_fork()
        self.pid = os.getpid()
        self.handled: set[signal.Signals] = set()
        self.tasks: set[int] = set()  # forked tasks not reaped yet

    def serve(self) -> None:
        # No death signal: when the runtime dies, the end of its requests (or a
        # failed send) ends this loop, and then every task with what it started.
        adopt_orphans()  # what a dead task left behind comes here, to be ended
        # Objects inherited from the runtime are never garbage: keep the
        # collector from walking (and so copy-on-write faulting) them in tasks.
        gc.freeze()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # the runtime's to handle (it closes us)
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        # Signals with a Python handler here (SIGCHLD's, the flow module's own):
        # blocked around each fork. Only these: a full mask costs ~70 us a fork.
        self.handled = {s for s in signal.valid_signals() if callable(signal.getsignal(s))}
        sel = selectors.DefaultSelector()
        sel.register(self.requests, selectors.EVENT_READ, "request")
        sel.register(wake_r, selectors.EVENT_READ, "child")
        while True:
            for key, _ in sel.select():
                if key.data == "child":
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 4096)
                    self._reap()
                elif not self._read_requests(wake_r, wake_w):
                    self._reap()
                    return
            self._reap()

    def _read_requests(self, wake_r: int, wake_w: int) -> bool:
        chunk = self.requests.recv(1 << 20)
        if not chunk:
            return False  # the runtime closed the socket: shut down
        self.buffer += chunk
        start, end = 0, len(self.buffer)
        while end - start >= _REQUEST.size:
            request, size = _REQUEST.unpack_from(self.buffer, start)
            stop = start + _REQUEST.size + size
            if end < stop:
                break
            self._fork(request, self.buffer[start + _REQUEST.size : stop], (wake_r, wake_w))
            start = stop
        self.buffer = self.buffer[start:]
        return True

    def _fork(self, request: int, spec: bytes, close_in_child: tuple[int, int]) -> None:
        """Fork the task of ``request``; a failure (no memory, no pids) fails that
        task alone: the zygote answers ``("f", request, errno)`` and goes on."""
        pipes: list[int] = []
        # No Python signal handler may run during the fork: the child would
        # inherit its "tripped" flag and run it (os.fork clears the flags).
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, self.handled)
        try:
            pipes += os.pipe()
            pipes += os.pipe()
            pid = self._fork_retrying()
        except OSError as err:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            for fd in pipes:
                os.close(fd)
            self.events.send(_EVENT.pack(b"f", request, err.errno or 0))
            return
        out_r, out_w, err_r, err_w = pipes
        if pid == 0:
            code = 1
            try:
                for fd in (out_r, err_r, *close_in_child):
                    os.close(fd)
                self.requests.close()
                self.events.close()
                signal.signal(signal.SIGHUP, self.hangup)  # type: ignore[arg-type]
                code = _child(TaskSpec.from_json(spec), out_w, err_w, self.entry, self.pid, mask)
            finally:
                os._exit(code)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        self.tasks.add(pid)
        os.close(out_w)
        os.close(err_w)
        socket.send_fds(self.events, [_EVENT.pack(b"p", request, pid)], [out_r, err_r])
        os.close(out_r)
        os.close(err_r)

    def _fork_retrying(self) -> int:
        """Fork; when the system is briefly out of processes or memory, wait and retry."""
        for pause in (0.01, 0.05, 0.2, 0.5, 1.0):
            try:
                return self.fork()
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.ENOMEM):
                    raise
            time.sleep(pause)
        return self.fork()

    def _reap(self) -> None:
        ended = False
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid not in self.tasks:
                continue  # an orphan a task left behind (see below)
            self.tasks.discard(pid)
            ended = True
            code = os.waitstatus_to_exitcode(status)
            self.events.send(_EVENT.pack(b"x", pid, code))
        if ended:
            # A task ends its own children; one that was killed could not, and
            # they were handed to us (adopt_orphans): end them now.
            end_children(keep=frozenset(self.tasks))


def _child(
    spec: TaskSpec, out_w: int, err_w: int, entry: TaskEntry, zygote: int, mask: set[int]
) -> int:
    """Inside a forked task process: wire up output, reseed, run."""
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # blocked around the fork
    die_with_parent(zygote)  # also if the zygote died before this line: never orphaned
    adopt_orphans()  # what the step starts stays ours, ended when the task ends
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    for fd in (devnull, out_w, err_w):
        os.close(fd)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        with contextlib.suppress(Exception):
            numpy.random.seed()
    try:
        return entry(spec)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        end_children()
