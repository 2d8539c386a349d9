"""A switch inside one branch of a static split: its cases go straight into the join."""

from grange import FlowSpec, step


class SJFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.choice = "x"
        self.next({"x": self.x, "y": self.y}, condition="choice")

    @step
    def x(self):
        self.v = "x"
        self.next(self.join)

    @step
    def y(self):
        self.v = "y"
        self.next(self.join)

    @step
    def b(self):
        self.v = "b"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.vs = sorted(i.v for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        assert self.vs == ["b", "x"], self.vs


if __name__ == "__main__":
    SJFlow()
