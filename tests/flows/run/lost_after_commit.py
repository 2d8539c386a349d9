"""Item 1 commits its result, then lingers in a destructor; item 0 kills the fork
server meanwhile. Item 1's task is lost after it succeeded: it must count as such."""

import os
import signal
import time
from pathlib import Path

from grange import FlowSpec, retry, step

MARKER = Path("fork-server-killed")
COMMITTED = Path("item-1-committed")


class Lingering:
    """Dropped once the task has committed its record: says so, then lingers."""

    def __del__(self):
        COMMITTED.write_text("yes")
        time.sleep(3)


class LostAfterCommitFlow(FlowSpec):
    @step
    def start(self):
        self.items = [0, 1]
        self.next(self.work, foreach="items")

    @retry(times=1, minutes_between_retries=0)
    @step
    def work(self):
        forked = "GRANGE_PARENT_PID" not in os.environ
        if self.input == 0 and forked and not MARKER.exists():
            deadline = time.time() + 60
            while not COMMITTED.exists() and time.time() < deadline:
                time.sleep(0.01)  # until item 1 has committed and lingers
            MARKER.write_text(str(os.getppid()))
            os.kill(os.getppid(), signal.SIGKILL)
            time.sleep(30)
        if self.input == 1:
            self.lingering = Lingering()
        self.value = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LostAfterCommitFlow()
