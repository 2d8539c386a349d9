"""A foreach whose tasks wait for a file to exist (UI_RELEASE), so a test sees the run live."""

import os
import time

from grange import FlowSpec, step


class UiWaitingFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(4))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        release = os.environ["UI_RELEASE"]
        print(f"item {self.input} waiting", flush=True)
        while self.input > 0 and not os.path.exists(release):
            time.sleep(0.05)
        print(f"item {self.input} released", flush=True)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UiWaitingFlow()
