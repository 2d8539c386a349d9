"""With $SLEEPY_DIR set, each 'nap' task writes its pid there and sleeps (to be killed)."""

import os
import time
from pathlib import Path

from grange import FlowSpec, step


class SleepyFlow(FlowSpec):
    @step
    def start(self):
        self.items = [0, 1]
        self.next(self.prep)

    @step
    def prep(self):
        self.prepared = True
        self.next(self.nap, foreach="items")

    @step
    def nap(self):
        folder = os.environ.get("SLEEPY_DIR")
        if folder:
            Path(folder, f"{os.getpid()}.pid").write_text(str(os.getpid()))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # until the test kills the run
                time.sleep(0.05)
        self.out = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.outs = [i.out for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SleepyFlow()
