"""Is a run's runtime still alive? Exact on the host that runs it, by heartbeat elsewhere.

A local runtime records, with its run, the process that runs it: a *host id*,
its pid and the pid's start time. A read on the same host checks that process
directly, so a run whose runtime was killed (``kill -9``, a closed terminal)
reads ``crashed`` on the very next read. A read on another host (a
shared PostgreSQL index) cannot see the process and falls back to the
heartbeat window: ``GRANGE_HEARTBEAT_WINDOW`` seconds without a heartbeat
(default 60) and the run reads ``crashed``.

- The host id is ``<hostname>:<boot id>:<pid namespace>`` (Linux): after a
  reboot (a new boot id) the pids of the previous boot are not judged, nor
  are another container's (another pid namespace): the heartbeat decides.
- The start time (field 22 of ``/proc/<pid>/stat``, clock ticks since boot)
  tells a reused pid from the runtime's own.
- Off Linux there is no host id: every read uses the heartbeat window.

Checking a process costs one small read of ``/proc``, done only for runs
stored as ``running`` on this host; finished runs cost nothing.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from grange.exceptions import MetadataError

HEARTBEAT_WINDOW_ENV = "GRANGE_HEARTBEAT_WINDOW"
MIN_HEARTBEAT_WINDOW = 30.0
"""Seconds; the runtime heartbeats every 10 s, so a shorter window would misjudge."""


@dataclass(frozen=True)
class RuntimeProcess:
    """The process that runs a run: where, which pid, started when."""

    host: str
    pid: int
    started: int  # clock ticks since boot (/proc/<pid>/stat field 22)


@functools.cache
def this_host() -> str | None:
    """This machine's host id (see the module doc), or None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            boot = fh.read().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    digits = "".join(c for c in namespace if c.isdigit())
    return f"{socket.gethostname()}:{boot}:{digits}"


def start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot); None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    # The name (field 2) is in parentheses and may hold anything, spaces too.
    fields = stat[stat.rfind(b")") + 2 :].split()
    if not fields or fields[0] in (b"Z", b"X"):
        return None  # a zombie: dead, its parent has not reaped it yet
    return int(fields[19])  # field 22 of the whole line


def current_process() -> RuntimeProcess | None:
    """This process, as a run records its runtime (None where it cannot)."""
    host = this_host()
    if host is None:
        return None
    pid = os.getpid()
    started = start_time(pid)
    return None if started is None else RuntimeProcess(host, pid, started)


def is_alive(host: str | None, pid: int | None, started: int | None) -> bool | None:
    """True if the recorded process runs, False if it is gone, None if this host
    cannot tell (another host, nothing recorded, a process it may not see)."""
    if host is None or pid is None or started is None or host != this_host():
        return None
    now = start_time(pid)
    if now is not None:
        return now == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return None  # /proc hides another user's processes (hidepid): cannot tell
    # Exists but /proc said no: a zombie, or /proc/<pid> unreadable.
    return False if os.path.exists(f"/proc/{pid}") else None


def heartbeat_window(environ: Mapping[str, str], default: float) -> float:
    """The heartbeat window from ``GRANGE_HEARTBEAT_WINDOW`` (seconds), else ``default``."""
    text = environ.get(HEARTBEAT_WINDOW_ENV, "").strip()
    if not text:
        return default
    try:
        window = float(text)
    except ValueError:
        window = -1.0
    if not window >= MIN_HEARTBEAT_WINDOW or window == float("inf"):
        raise MetadataError(
            f"{HEARTBEAT_WINDOW_ENV}={text!r} is not a number of seconds of at least "
            f"{MIN_HEARTBEAT_WINDOW:g}",
            fix=f"set {HEARTBEAT_WINDOW_ENV} to e.g. 60 (a running runtime heartbeats "
            "every 10 s), or unset it",
        )
    return window
