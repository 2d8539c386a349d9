"""Ten steps in a line; the last fails while BENCH_FAIL=1 is set, for resume."""

import os

from grange import FlowSpec, step


class Resume10Flow(FlowSpec):
    @step
    def start(self):
        self.count = 1
        self.next(self.s2)

    @step
    def s2(self):
        self.count += 1
        self.next(self.s3)

    @step
    def s3(self):
        self.count += 1
        self.next(self.s4)

    @step
    def s4(self):
        self.count += 1
        self.next(self.s5)

    @step
    def s5(self):
        self.count += 1
        self.next(self.s6)

    @step
    def s6(self):
        self.count += 1
        self.next(self.s7)

    @step
    def s7(self):
        self.count += 1
        self.next(self.s8)

    @step
    def s8(self):
        self.count += 1
        self.next(self.s9)

    @step
    def s9(self):
        self.count += 1
        self.next(self.end)

    @step
    def end(self):
        if os.environ.get("BENCH_FAIL") == "1":
            raise RuntimeError("failing on purpose (BENCH_FAIL=1), to be resumed")
        assert self.count == 9


if __name__ == "__main__":
    Resume10Flow()
