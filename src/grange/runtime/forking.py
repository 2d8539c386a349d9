"""How the fork server forks a task: libc's ``fork()`` when that is safe, else ``os.fork``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def task_fork() -> Callable[[], int]:
    """How the zygote forks a task: libc's ``fork()`` when it is safe, else ``os.fork``.

    ``os.fork`` also runs the interpreter's after-fork work in the child, and
    the ``os.register_at_fork`` hooks. The standard library's re-create locks
    that *other threads* may have held (threading, logging,
    concurrent.futures) and reseed ``random``. A zygote with a single thread
    has no such locks and :func:`_child` reseeds on its own, so when no other
    hook is registered, calling ``fork()`` directly, with the GIL held and
    signals blocked, does the same job; it saves ~0.4 ms of CPU and ~170
    copy-on-write page faults per task, a tenth of what a trivial task costs.
    Hooks that libraries register with ``pthread_atfork`` (C level) run either way.
    """
    if not _libc_fork_is_safe() or _thread_count() != 1 or _foreign_fork_hooks():
        return os.fork
    try:
        import ctypes

        fork = ctypes.PyDLL(None, use_errno=True).fork  # PyDLL: called with the GIL held
    except (OSError, AttributeError):
        return os.fork
    fork.restype = ctypes.c_int
    fork.argtypes = []

    def libc_fork() -> int:
        pid = int(fork())
        if pid < 0:
            raise OSError(ctypes.get_errno(), "fork() failed")
        return pid

    return libc_fork


def _libc_fork_is_safe() -> bool:
    """CPython 3.10 to 3.13 with a GIL, on Linux: the interpreters whose after-fork
    work was checked to matter only with more than one thread (a test runs tasks
    with threads, thread and process pools, logging and reseeded generators)."""
    import sysconfig

    return (
        sys.platform.startswith("linux")
        and sys.implementation.name == "cpython"
        and (3, 10) <= sys.version_info[:2] <= (3, 13)
        and not sysconfig.get_config_var("Py_GIL_DISABLED")
    )


# Modules whose os.register_at_fork(after_in_child=...) hooks only matter when
# the forking process has other threads (or reseed what _child reseeds).
_STDLIB_FORK_HOOKS = frozenset({"threading", "random", "logging", "concurrent.futures.thread"})


def _foreign_fork_hooks() -> list[str]:
    """After-fork hooks registered by anything but the standard library.

    A library that registers one (PyTorch's CUDA fork check, gRPC, telemetry
    exporters) expects it to run in every child, so then the zygote uses
    ``os.fork``. The interpreter keeps the hooks in a list that is found as a
    referrer of the threading module's own hook.
    """
    import gc
    import threading

    hook = getattr(threading, "_after_fork", None)
    if hook is None:
        return ["(unknown: threading._after_fork is missing)"]
    foreign = []
    for holder in gc.get_referrers(hook):
        if not isinstance(holder, list):
            continue
        for fn in holder:
            module = getattr(fn, "__module__", None)
            if module in _STDLIB_FORK_HOOKS or getattr(fn, "__name__", "") == "_at_fork_reinit":
                continue  # _at_fork_reinit: a lock made new (concurrent.futures)
            foreign.append(f"{module}.{getattr(fn, '__qualname__', fn)}")
    return foreign


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0
