"""A foreach and a switch, parameters and prints on both streams (the UI's run page)."""

import sys

from grange import FlowSpec, Parameter, step


class UiShapesFlow(FlowSpec):
    width = Parameter("width", default=3, type=int, help="how many foreach tasks")
    coin = Parameter("coin", default="heads", help="which branch of the switch runs")
    note = Parameter("note", default="plain", help="a free text shown by the UI")

    @step
    def start(self):
        print(f"starting with width={self.width} note={self.note}")
        self.items = list(range(self.width))
        self.next(self.square, foreach="items")

    @step
    def square(self):
        print(f"squaring {self.input}")
        print(f"stderr line of task {self.input}", file=sys.stderr)
        self.value = self.input * self.input
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.decide)

    @step
    def decide(self):
        self.side = self.coin
        self.next({"heads": self.heads, "tails": self.tails}, condition="side")

    @step
    def heads(self):
        self.ran = "heads"
        self.next(self.after)

    @step
    def tails(self):
        self.ran = "tails"
        self.next(self.after)

    @step
    def after(self):
        self.next(self.end)

    @step
    def end(self):
        print(f"total={self.total} ran={self.ran}")


if __name__ == "__main__":
    UiShapesFlow()
