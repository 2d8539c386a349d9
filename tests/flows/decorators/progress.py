"""Two tasks that print, and take $WORK_SECONDS (so that a live view redraws while they run)."""

import os
import time

from grange import FlowSpec, step


class ProgressFlow(FlowSpec):
    @step
    def start(self):
        self.items = [0, 1]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        print(f"hello from item {self.input}")
        time.sleep(float(os.environ.get("WORK_SECONDS", "0")))
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ProgressFlow()
