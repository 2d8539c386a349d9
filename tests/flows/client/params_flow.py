"""Parameters, prints on both streams, a private and a large artifact."""

import sys

from grange import FlowSpec, Parameter, step


class ClientParamsFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5, type=float, help="a float parameter")
    label = Parameter("label", default="plain")

    @step
    def start(self):
        print(f"hello from start alpha={self.alpha}")
        print("a warning from start", file=sys.stderr)
        self.x = 1
        self._hidden = "secret"
        self.big = list(range(5000))
        self.next(self.middle)

    @step
    def middle(self):
        self.x += 1
        print(f"middle sees x={self.x}")
        self.next(self.end)

    @step
    def end(self):
        self.result = self.x * 10


if __name__ == "__main__":
    ClientParamsFlow()
