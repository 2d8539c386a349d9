"""Running one command and measuring it from outside: wall clock and memory.

Wall time is ``time.perf_counter()`` around the child, from spawn to reap.
Memory comes from two places:

* ``os.wait4`` returns the child's rusage; on Linux its ``ru_maxrss`` is the
  peak RSS of the *largest single process* among the child and every
  descendant it reaped (the kernel folds reaped children's peaks into their
  parent's), so for grange it is max(runtime, fork server, any task).
* with ``sample_hwm``, a thread reads ``VmHWM`` (the process's own peak RSS)
  from ``/proc/PID/status`` of the child and of its direct children (grange's
  fork server) every 0.2 s. VmHWM only grows, so the last sample before exit
  misses at most 0.2 s of growth. This is the runtime's own peak.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Timing:
    """One measured command."""

    wall: float
    exit_code: int
    maxrss_tree_kib: int  # from wait4: the largest process of the tree
    log: Path
    hwm_kib: dict[str, int] = field(default_factory=dict)  # "runtime", "fork-server" (sampled)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def run_timed(
    cmd: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    log: Path,
    sample_hwm: bool = False,
) -> Timing:
    """Run ``cmd`` with stdout and stderr into ``log``; time it from outside."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        sampler = _HwmSampler(proc.pid) if sample_hwm else None
        _, status, rusage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    hwm = sampler.stop() if sampler else {}
    return Timing(wall, proc.returncode, rusage.ru_maxrss, log, hwm)


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


_HWM = re.compile(rb"^VmHWM:\s+(\d+) kB", re.MULTILINE)


def _read_hwm(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            match = _HWM.search(f.read())
    except OSError:
        return None
    return int(match.group(1)) if match else None


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


class _HwmSampler:
    """Samples VmHWM of a process and of its first child that lives long (the fork server)."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self.server: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        value = _read_hwm(self.pid)
        if value is not None:
            self.peaks["runtime"] = max(value, self.peaks.get("runtime", 0))
        if self.server is None:
            kids = _children(self.pid)
            # grange's fork server is the runtime's first child and outlives every task.
            self.server = kids[0] if kids else None
        if self.server is not None:
            value = _read_hwm(self.server)
            if value is not None:
                self.peaks["fork-server"] = max(value, self.peaks.get("fork-server", 0))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._thread.join()
        return dict(self.peaks)
