"""A flow to spin: a parameter, a foreach whose body can fail on one item, a join, an end."""

import os

from grange import FlowSpec, Parameter, retry, step


class SpinFlow(FlowSpec):
    alpha = Parameter("alpha", default=1, type=int)
    OFFSET = 0

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.seen_alpha = self.alpha
        self.next(self.body, foreach="items")

    @retry(times=1)
    @step
    def body(self):
        if os.environ.get("SPIN_FAIL_AT") == str(self.input):
            raise ValueError(f"cannot square {self.input}")
        print(f"body {self.index}: {self.input}")
        self.sq = self.input * self.input * self.alpha + self.OFFSET
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.sq for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print(f"total {self.total}")


if __name__ == "__main__":
    SpinFlow()
