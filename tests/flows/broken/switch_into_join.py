"""Broken: a case of the switch in branch 'a' goes straight into the join."""

from grange import FlowSpec, step


class SwitchIntoJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.mode = "fast"
        self.next({"fast": self.join, "slow": self.slow}, condition="mode")

    @step
    def slow(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchIntoJoinFlow()
