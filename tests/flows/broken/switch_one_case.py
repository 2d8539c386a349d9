"""Broken: every case of the switch goes to the same step."""

from grange import FlowSpec, step


class SwitchOneCaseFlow(FlowSpec):
    @step
    def start(self):
        self.mode = "a"
        self.next({"a": self.train, "b": self.train}, condition="mode")

    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchOneCaseFlow()
