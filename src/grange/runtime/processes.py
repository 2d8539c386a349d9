"""What task processes leave behind: nothing, once they end or the runtime does.

A step may start processes (``Popen``, ``sleep 1000 &`` in a shell, a
``multiprocessing`` pool) and not wait for them. Linux lets a process become
the *subreaper* of its descendants (:func:`adopt_orphans`): an orphan then
comes to it instead of to init, so that :func:`end_children` can end the
whole tree, double-forked daemons included. Who adopts what:

- a task process, for what its step starts; it ends that when it exits;
- the fork server, for what a task killed from outside left; it ends those at
  once, and every task and its tree when the runtime goes (end of its requests);
- the runtime, for what the tasks of a dead fork server (or of a killed fresh
  interpreter) left;
- in a fresh interpreter (``--no-fork``), :func:`guard_task` splits the
  ``step`` process into a small guard and the task, so that a guard that
  outlives the task (or hears that the runtime died) ends what it started.

Tasks also die with their parent (:func:`die_with_parent`, ``PR_SET_PDEATHSIG``).
Elsewhere than on Linux, none of this is available and processes are left as is.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ctypes

PARENT_PID_ENV = "GRANGE_PARENT_PID"  # set for `step` processes that must die with the runtime
# The PYTHONPATH entries a step environment's process got only to import grange (the
# shim): dropped from os.environ once it started (sys.path keeps them), so that what
# the step starts (a subprocess, another Python) does not inherit them.
SHIM_ENV = "GRANGE_ENV_SHIM"


def forget_shim() -> None:
    """Remove the entries of :data:`SHIM_ENV` from this process's ``PYTHONPATH``."""
    shim = os.environ.pop(SHIM_ENV, None)
    if not shim:
        return
    drop = set(shim.split(os.pathsep))
    kept = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p not in drop]
    if kept:
        os.environ["PYTHONPATH"] = os.pathsep.join(kept)
    else:
        os.environ.pop("PYTHONPATH", None)


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


def dies_with_this_process(sig: int) -> Callable[[], object] | None:
    """A ``preexec_fn`` (or first call of a forked child) that has the child sent
    ``sig`` when this process dies (:func:`die_with_parent`); None where the system
    has no such thing. libc is looked up here, before the fork."""
    if _libc() is None or not sys.platform.startswith("linux"):
        return None
    return functools.partial(die_with_parent, os.getpid(), sig)


_PR_SET_CHILD_SUBREAPER = 36
GUARDED = sys.platform.startswith("linux")  # step processes run under guard_task's guard


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


#: Children that :func:`end_children` leaves alone: processes a launcher owns and
#: ends itself (task processes, fork servers, the followers of Kubernetes Jobs,
#: which must delete their Job first: killed, they would leave it running). A run
#: has several launchers (one per step environment): when one of them ends what
#: its dead tasks left behind, it must not kill the others' processes. Only the
#: process that registered them honours it (a forked child inherits a stale copy).
SPARED: set[int] = set()
_spared_in = [0]  # the pid of the process whose children SPARED names


def spare(pid: int) -> None:
    """Register ``pid`` (a child of this process) as owned by a launcher: see :data:`SPARED`."""
    if _spared_in[0] != os.getpid():
        SPARED.clear()
        _spared_in[0] = os.getpid()
    SPARED.add(pid)


def unspare(pid: int) -> None:
    """``pid`` was reaped (or is about to be killed by its launcher)."""
    SPARED.discard(pid)


def end_children(*, keep: frozenset[int] = frozenset()) -> None:
    """Kill and reap every child of this process but ``keep`` (and :data:`SPARED`),
    and the orphans they leave (which come to us with :func:`adopt_orphans`), until
    none is left."""
    for _ in range(1000):  # a fork bomb must not keep us here forever
        pids = child_pids() - keep
        if _spared_in[0] == os.getpid():
            pids -= SPARED
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
    :meth:`~grange.runtime.launcher.SpawnLauncher.kill`). The task (the child, which returns from here
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
