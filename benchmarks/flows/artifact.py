"""A NumPy array of ``--mib`` MiB written in one step and summed in the next.

Prints two wall-clock stamps the harness reads from the run's output:
``BENCH made=T`` once the array exists (before the runtime saves it) and
``BENCH summed=T`` once the next step has read every byte of it. Their
difference is the save + load (+ one pass of ``sum`` and the hand-off from
one task to the next).
"""

import time

import numpy as np

from grange import FlowSpec, Parameter, step


class ArtifactFlow(FlowSpec):
    mib = Parameter("mib", default=256, type=int, help="array size in MiB")

    @step
    def start(self):
        count = self.mib * (1 << 20) // 8
        # Random floats do not compress, like real weights or features; 64 MiB
        # of them tiled to size are as incompressible and cheap to make.
        block = np.random.default_rng().random(min(count, 8 << 20))
        self.x = np.tile(block, -(-count // block.size))[:count]
        print(f"BENCH made={time.time():.6f}")
        self.next(self.consume)

    @step
    def consume(self):
        self.total = float(self.x.sum())
        print(f"BENCH summed={time.time():.6f}")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ArtifactFlow()
