"""A foreach whose tasks wait for the test: with $UI_GATE set, each 'work' task writes
``waiting-<i>`` there and waits until a file ``go`` appears (the UI's live test)."""

import os
import time
from pathlib import Path

from grange import FlowSpec, Parameter, step


class UiLiveFlow(FlowSpec):
    width = Parameter("width", default=3, type=int)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        gate = os.environ.get("UI_GATE")
        if gate:
            print(f"task {self.input} waits for the gate", flush=True)
            Path(gate, f"waiting-{self.input}").write_text("")
            deadline = time.monotonic() + 600  # a guard if the test died, not a timing
            while not Path(gate, "go").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            print(f"task {self.input} passed the gate", flush=True)
        self.done = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.all = sorted(i.done for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UiLiveFlow()
