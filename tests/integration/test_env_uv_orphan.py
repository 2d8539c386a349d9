"""A uv that grange started dies with grange: kill -9 of the process that waits for it
(a run resolving an environment from an index that never answers) leaves no uv behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from env_support import uv_available

pytestmark = pytest.mark.skipif(
    not uv_available() or not sys.platform.startswith("linux"), reason="uv on Linux"
)

CHILD = """
import sys
from pathlib import Path
from grange.environments import uvtool
from grange.environments.settings import EnvSettings

settings = EnvSettings(cache_dir=Path(sys.argv[1]))
url = sys.argv[2]
uvtool.run_uv(["pip", "compile", "-", "--index-url", url, "--no-build"], settings, stdin="tabulate\\n")
"""


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_uv_dies_with_its_parent(tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # never accepted: uv waits for an answer
    url = f"http://127.0.0.1:{server.getsockname()[1]}/simple"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "cache"), url])
    try:
        uv: list[int] = []
        for _ in range(600):  # until the child has started uv
            uv = _children(child.pid)
            if uv:
                break
            time.sleep(0.05)
        assert uv, "uv was never started"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        for _ in range(200):
            if not _alive(uv[0]):
                break
            time.sleep(0.05)
        assert not _alive(uv[0]), "uv outlived the process that started it"
    finally:
        if child.poll() is None:
            child.kill()
        server.close()
