"""A switch inside a case of another switch, whose cases all meet again in 'merge'."""

from grange import FlowSpec, step


class NestedSwitchFlow(FlowSpec):
    @step
    def start(self):
        self.outer = "inner"
        self.next({"plain": self.plain, "inner": self.choose}, condition="outer")

    @step
    def plain(self):
        self.next(self.merge)

    @step
    def choose(self):
        self.inner = "x"
        self.next({"x": self.x, "y": self.y}, condition="inner")

    @step
    def x(self):
        self.next(self.merge)

    @step
    def y(self):
        self.next(self.merge)

    @step
    def merge(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NestedSwitchFlow()
