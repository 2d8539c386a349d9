"""Six tasks that each count how many tasks of the foreach are running with it.

Every task holds a marker file in $WORKERS_DIR while it runs.
"""

import os
import time
from pathlib import Path

from grange import FlowSpec, step


class WorkersFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(6))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        markers = Path(os.environ["WORKERS_DIR"])
        mine = markers / f"running-{self.index}"
        mine.touch()
        time.sleep(0.05)
        self.together = len(list(markers.glob("running-*")))
        mine.unlink()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.peak = max(i.together for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WorkersFlow()
