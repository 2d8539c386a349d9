"""A foreach of short tasks, for fault injection: each 'work' task writes
"<pid> <start time>" to a file in $FAULT_DIR (if set) so that a test can kill it."""

import os
import time
from pathlib import Path

from grange import FlowSpec, Parameter, step


class FaultFlow(FlowSpec):
    n = Parameter("n", default=12, type=int)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        folder = os.environ.get("FAULT_DIR")
        if folder:
            stat = Path("/proc/self/stat").read_bytes()
            started = stat[stat.rfind(b")") + 2 :].split()[19].decode()
            Path(folder, str(os.getpid())).write_text(f"{os.getpid()} {started}")
        time.sleep(0.08 + 0.04 * (self.input % 3))
        self.square = self.input**2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.squares = sorted(i.square for i in inputs)
        self.total = sum(self.squares)
        self.next(self.end)

    @step
    def end(self):
        self.checked = self.total == sum(i * i for i in range(self.n))


if __name__ == "__main__":
    FaultFlow()
