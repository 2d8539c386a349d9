"""A foreach whose tasks each ask for every CPU of the machine (2 here): they must
run one at a time. Each task leaves marker files in $MARKERS_DIR: ``running-<i>``
while it runs (and counts the others it sees), ``start-<i>``/``end-<i>`` with times."""

import os
import time
from pathlib import Path

from grange import FlowSpec, resources, step

CPUS = len(os.sched_getaffinity(0))


def work_alone(index):
    markers = Path(os.environ["MARKERS_DIR"])
    Path(markers, f"start-{index}").write_text(repr(time.time()))
    mine = markers / f"running-{index}"
    mine.touch()
    time.sleep(0.2)
    together = len(list(markers.glob("running-*")))
    mine.unlink()
    Path(markers, f"end-{index}").write_text(repr(time.time()))
    return together


class ResourcesForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [0, 1, 2]
        self.next(self.work, foreach="items")

    @resources(cpu=CPUS, memory=100)
    @step
    def work(self):
        self.together = work_alone(self.index)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.peak = max(i.together for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ResourcesForeachFlow()
