"""GPU assignment: three tasks each ask for one GPU; a @resources step without GPUs
and a step without @resources report what CUDA_VISIBLE_DEVICES they see."""

import os
import time
from pathlib import Path

from grange import FlowSpec, resources, step


class GpuFlow(FlowSpec):
    @step
    def start(self):
        self.items = [0, 1, 2]
        self.next(self.train, foreach="items")

    @resources(gpu=1, memory=100)
    @step
    def train(self):
        markers = Path(os.environ["MARKERS_DIR"])
        self.item = self.index
        self.gpus = os.environ.get("CUDA_VISIBLE_DEVICES")
        Path(markers, f"start-{self.index}").write_text(repr(time.time()))
        mine = markers / f"running-{self.index}"
        mine.touch()
        time.sleep(0.5)
        self.together = sorted(p.name for p in markers.glob("running-*"))
        mine.unlink()
        Path(markers, f"end-{self.index}").write_text(repr(time.time()))
        self.next(self.join)

    @resources(cpu=1, memory=100)
    @step
    def join(self, inputs):
        self.assigned = {i.item: i.gpus for i in inputs}
        self.seen_together = {i.item: i.together for i in inputs}
        self.join_gpus = os.environ.get("CUDA_VISIBLE_DEVICES")
        self.next(self.end)

    @step
    def end(self):
        self.end_gpus = os.environ.get("CUDA_VISIBLE_DEVICES")


if __name__ == "__main__":
    GpuFlow()
