"""Two branches: ``killer`` kills a process, ``survivor`` must not die with it.

KILL_MODE: ``self`` (an @pypi killer kills itself; plain survivor; run with
--no-fork), ``server`` (an @pypi killer kills its environment's fork server; the
survivor is in another environment), ``host`` (a plain killer kills the runtime's
own fork server; the survivor is an @pypi step).
"""

import os
import signal
import time
from pathlib import Path

from grange import FlowSpec, pypi, step

MODE = os.environ.get("KILL_MODE", "self")


def _plain(f):
    return f


killer_env = pypi(packages={"tabulate": "0.9.0"}) if MODE in ("self", "server") else _plain
survivor_env = pypi(packages={"six": "1.16.0"}) if MODE in ("server", "host") else _plain


class KillFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.killer, self.survivor)

    @killer_env
    @step
    def killer(self):
        victim = os.getpid() if MODE == "self" else os.getppid()
        Path("victim").write_text(str(victim))
        while not Path("survivor-started").exists():
            time.sleep(0.05)
        os.kill(victim, signal.SIGKILL)
        time.sleep(60)  # killed with its fork server
        self.next(self.join)

    @survivor_env
    @step
    def survivor(self):
        Path("survivor-started").write_text("")
        while not Path("victim").exists():
            time.sleep(0.05)
        victim = int(Path("victim").read_text())
        while _alive(victim):
            time.sleep(0.05)
        time.sleep(1.5)  # the runtime has seen the death and ended what it ends
        self.survived = True
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
    return True


if __name__ == "__main__":
    KillFlow()
