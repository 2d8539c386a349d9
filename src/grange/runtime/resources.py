"""Local admission control for ``@resources``: CPUs, memory and GPUs of this machine.

A task asking for 2 CPUs takes two of the machine's cores; a task is not
started while its memory would exceed what is free; GPU tasks get distinct
GPUs (``CUDA_VISIBLE_DEVICES``), so two tasks never share one. A request
larger than the whole machine is not an error (it is usually meant for a
remote compute layer): it is clamped to the machine, runs when nothing else
does, and the runtime says so once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field

from grange.decorators.options import Resources


@dataclass(frozen=True)
class Machine:
    """What this machine has: CPUs, memory in MiB, GPU ids."""

    cpus: float
    memory: int
    gpus: tuple[str, ...] = ()

    @classmethod
    def detect(cls, env: dict[str, str] | None = None) -> Machine:
        env = dict(os.environ if env is None else env)
        cpus = float(
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )
        return cls(cpus=cpus, memory=_total_memory_mib(), gpus=_gpu_ids(env))


@dataclass(frozen=True)
class Allocation:
    """What one started task holds until it ends."""

    cpu: float
    memory: int
    gpus: tuple[str, ...] = ()
    oversized: bool = False  # the request was larger than the machine
    unconstrained: bool = False  # no @resources: nothing reserved, GPUs left as they are

    def env(self) -> dict[str, str]:
        """Environment for the task: its GPUs (none visible when it asked for none)."""
        if self.unconstrained:
            return {}
        return {"CUDA_VISIBLE_DEVICES": ",".join(self.gpus)}


@dataclass
class ResourcePool:
    """Tracks what running tasks hold; decides whether the next one fits."""

    machine: Machine
    cpu_used: float = 0.0
    memory_used: int = 0
    gpus_free: list[str] = field(default_factory=list)
    running: int = 0  # tasks holding a reservation

    def __post_init__(self) -> None:
        self.gpus_free = list(self.machine.gpus)

    def clamp(self, request: Resources) -> tuple[float, int, int, bool]:
        """The request cut down to the machine; True when it had to be cut."""
        cpu = min(request.cpu, self.machine.cpus)
        memory = min(request.memory, self.machine.memory)
        gpu = min(request.gpu, len(self.machine.gpus))
        oversized = (cpu, memory, gpu) != (request.cpu, request.memory, request.gpu)
        return cpu, memory, gpu, oversized

    def try_acquire(self, request: Resources | None) -> Allocation | None:
        """Take what ``request`` needs if it is free now, else None. A task without
        a request (no ``@resources``) reserves nothing and always fits."""
        if request is None:
            return Allocation(0.0, 0, unconstrained=True)
        cpu, memory, gpu, oversized = self.clamp(request)
        fits = (
            self.cpu_used + cpu <= self.machine.cpus + 1e-9
            and self.memory_used + memory <= self.machine.memory
            and gpu <= len(self.gpus_free)
        )
        if not fits and self.running:
            return None
        self.running += 1
        # Nothing runs: start it anyway, so that no request can block the run.
        self.cpu_used += cpu
        self.memory_used += memory
        gpus = tuple(self.gpus_free[:gpu])
        del self.gpus_free[:gpu]
        return Allocation(cpu, memory, gpus, oversized)

    def release(self, allocation: Allocation) -> None:
        if allocation.unconstrained:
            return
        self.cpu_used = max(0.0, self.cpu_used - allocation.cpu)
        self.memory_used = max(0, self.memory_used - allocation.memory)
        self.gpus_free.extend(allocation.gpus)
        self.running = max(0, self.running - 1)


def _total_memory_mib() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024))
    except (ValueError, OSError, AttributeError):
        return 8192


def _gpu_ids(env: dict[str, str]) -> tuple[str, ...]:
    """GPUs this process may use: CUDA_VISIBLE_DEVICES if set, else nvidia-smi's list."""
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return tuple(g.strip() for g in visible.split(",") if g.strip() and g.strip() != "-1")
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ()
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(line.strip() for line in out.stdout.splitlines() if line.strip().isdigit())
