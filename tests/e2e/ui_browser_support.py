"""A store of real runs and a ``grange ui`` server over it, for the UI's end-to-end tests.

:func:`make_store` runs the flows of ``tests/flows/ui`` as a user types them
(``python flow.py run ...`` in a temporary folder, storing under its
``.grange/``), and :class:`UiServer` starts ``grange ui --port N`` on that folder
as a subprocess and waits until it answers.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from support import FLOWS, Runner

UI_FLOWS = FLOWS / "ui"
GRANGE = "import sys; from grange.cli.main import main; sys.argv[0] = 'grange'; main()"
HOSTILE = "<img src=x onerror=window.pwned=1>"
"""A tag and a parameter value that run script if a page puts them in as HTML."""

#: How long to wait for something that should happen in well under a second:
#: only a guard so that a broken build fails instead of hanging, never a timing.
GUARD_SECONDS = 120.0


@dataclass
class Store:
    """The folder of a store with real runs, and the ids of those runs."""

    folder: Path
    runner: Runner
    shapes: str  # UiShapesFlow: foreach of 3 and a switch; tag 'nightly', width=3
    hostile: str  # UiShapesFlow again, with HOSTILE as a tag and as the 'note' parameter
    failed: str  # UiFailFlow: its 'boom' step raises
    live_first: str  # UiLiveFlow: one finished run (so its runs page exists)

    @property
    def root(self) -> Path:
        return self.runner.root

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a command reading (or writing to) this store."""
        return self.runner.env(**extra)


def make_store(folder: Path) -> Store:
    """Runs of the flows of tests/flows/ui in ``folder/.grange``."""
    runner = Runner(folder)
    shapes = runner.run(UI_FLOWS / "shapes.py", "--tag", "nightly", "--width", "3")
    hostile = runner.run(UI_FLOWS / "shapes.py", "--tag", HOSTILE, "--note", HOSTILE)
    failed = runner.run(UI_FLOWS / "fails.py", ok=False)
    live = runner.run(UI_FLOWS / "live.py", "--width", "2")
    ids = [r.run_id for r in (shapes, hostile, failed, live)]
    assert all(ids), ids
    return Store(folder, runner, *ids)  # type: ignore[arg-type]


def free_port() -> int:
    """A TCP port free on loopback now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class UiServer:
    """``grange ui --port PORT`` in ``cwd`` with ``env``, its output in ``log``."""

    def __init__(self, cwd: Path, env: dict[str, str], log: Path, *args: str) -> None:
        self.cwd = cwd
        self.env = env
        self.log = log
        self.args = args
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base + path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self) -> UiServer:
        self.port = free_port()
        self._out = self.log.open("wb")
        argv = [sys.executable, "-c", GRANGE, "ui", "--port", str(self.port), *self.args]
        self.proc = subprocess.Popen(
            argv, cwd=self.cwd, env=self.env, stdout=self._out, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + GUARD_SECONDS
        while True:
            if self.proc.poll() is not None:
                self._close()
                raise AssertionError(
                    f"grange ui exited {self.proc.returncode} before answering:\n{self.output()}"
                )
            if self.answers():
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"grange ui did not answer on {self.base}:\n{self.output()}")
            time.sleep(0.1)

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url("/"), timeout=5) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def stop(self) -> int:
        """Terminate the server (kill it if it does not exit); its exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self._close()
        assert self.proc.returncode is not None
        return self.proc.returncode

    def _close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def start_run(
    runner: Runner, flow: Path, *args: str, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], Path]:
    """``python FLOW run ARGS`` in the background; the process and its run-id file."""
    argv, id_file = runner.argv(flow, "run", *args)
    assert id_file is not None
    log = runner.cwd / f"{id_file.name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=runner.cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, id_file


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition()`` until it is true (a failure guard only, no timing)."""
    deadline = time.monotonic() + GUARD_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def kill_quietly(proc: subprocess.Popen[bytes]) -> None:
    """End a background run that a failed test left running."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
