"""A step whose artifact does not fit on the disk of the datastore (tests mount a
small file system there); with ``--fill``, the step first fills the disk itself:
at most 32 MiB, so that a resume outside the test's small disk (which keeps
the parameter) cannot fill a real one."""

import os

from grange import FlowSpec, Parameter, step


class FillDiskFlow(FlowSpec):
    size = Parameter("size", default=0, type=int, help="bytes of the big artifact")
    fill = Parameter("fill", default="", help="a file to fill the disk with first")

    @step
    def start(self):
        self.small = "kept"
        self.items = [1, 2, 3]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.item = self.input * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.item for i in inputs)
        if self.fill:
            with open(self.fill, "wb") as f:
                try:
                    for _ in range(512):
                        f.write(b"\0" * 65536)
                except OSError:
                    pass
        self.big = os.urandom(self.size)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total, "big", len(self.big))


if __name__ == "__main__":
    FillDiskFlow()
