"""A run whose store can go away mid-run: ``start`` waits for $GO_FILE after
writing $READY_FILE, then saves an artifact; the rest is ordinary."""

import os
import time
from pathlib import Path

from grange import FlowSpec, step


class OutageRunFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        ready, go = os.environ.get("READY_FILE"), os.environ.get("GO_FILE")
        if ready and go:
            Path(ready).write_text("ready")
            while not Path(go).exists():
                time.sleep(0.05)
        self.payload = b"x" * 100_000
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.out = self.input * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        self.outs = [i.out for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    OutageRunFlow()
