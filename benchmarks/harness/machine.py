"""The machine floor and facts: interpreter start, imports, and the disk by ``dd``.

These are the baselines the flow benchmarks are read against: no runtime can
start a task faster than its interpreter starts, nor move bytes faster than
``dd`` moves them to and from the same disk.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

DD_MIB = 1024


def time_python(python: str, code: str, repeat: int, env: dict[str, str]) -> list[float]:
    """Wall seconds of ``python -c CODE``, ``repeat`` times (after one warm-up)."""
    subprocess.run([python, "-c", code], env=env, check=True)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([python, "-c", code], env=env, check=True)
        times.append(time.perf_counter() - start)
    return times


def drop_caches() -> bool:
    """Write back and drop the page cache (needs root); whether it was possible."""
    subprocess.run(["sync"], check=False)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def dd_bandwidth(directory: Path, mib: int = DD_MIB) -> dict[str, Any]:
    """``dd`` write (with fdatasync) and read back of ``mib`` MiB in ``directory``.

    The read is done twice: right after dropping the page cache (a cold read
    from the disk, when dropping is allowed) and again with the file cached.
    """
    path = directory / "dd.bin"
    facts: dict[str, Any] = {"mib": mib, "directory": str(directory)}
    try:
        start = time.perf_counter()
        subprocess.run(
            ["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={mib}", "conv=fdatasync"],
            check=True,
            capture_output=True,
        )
        facts["write_s"] = time.perf_counter() - start
        facts["cache_dropped"] = drop_caches()
        facts["read_s"] = _dd_read(path)
        facts["read_warm_s"] = _dd_read(path)
    finally:
        path.unlink(missing_ok=True)
    size = mib * (1 << 20)
    for key in ("write", "read", "read_warm"):
        facts[f"{key}_gb_s"] = size / facts[f"{key}_s"] / 1e9
    return facts


def _dd_read(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=1M"], check=True, capture_output=True)
    return time.perf_counter() - start


def facts(directory: Path) -> dict[str, Any]:
    """What the figures depend on: CPU, memory, kernel, Python, the disk."""
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _mem_gib(),
        "kernel": platform.release(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "workdir": str(directory),
    }
    found = shutil.which("findmnt")
    if found:
        out = subprocess.run(
            [found, "-n", "-o", "SOURCE,FSTYPE", "-T", str(directory)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        if len(out) == 2:
            info["disk"], info["filesystem"] = out
    return info


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor()


def _mem_gib() -> float | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    match = re.search(r"^MemTotal:\s+(\d+) kB", text, re.MULTILINE)
    return round(int(match.group(1)) / (1 << 20), 1) if match else None
