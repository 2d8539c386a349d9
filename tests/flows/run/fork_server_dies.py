"""A foreach whose first task kills the fork server it was forked from, once.

The marker file (in the working directory) makes it happen once per test,
also across a resume. Under --no-fork the parent is the runtime: never kill it.

The task waits a moment before the kill: the fork server tells the runtime a
task started only after the fork returns in the server, and a task that killed
it before that (the server descheduled right after the fork, on a loaded
machine) is one the runtime never saw start. That task is launched again as
the same attempt, with no retry used, which is right but not what the test
is about.
"""

import os
import signal
import time
from pathlib import Path

from grange import FlowSpec, step

MARKER = Path("fork-server-killed")


class ForkServerDiesFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(4))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        forked = "GRANGE_PARENT_PID" not in os.environ
        if self.input == 0 and forked and not MARKER.exists():
            time.sleep(0.5)
            MARKER.write_text(str(os.getppid()))
            os.kill(os.getppid(), signal.SIGKILL)
            time.sleep(30)  # this task dies with its parent before this ends
        self.value = self.input * 10
        self.forked = forked
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(i.value for i in inputs)
        self.all_forked = all(i.forked for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ForkServerDiesFlow()
