"""Broken: a @parallel step that is a switch (the step after a gang must be its join)."""

from grange import FlowSpec, parallel, step


class ParallelSwitchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=2)

    @parallel
    @step
    def train(self):
        self.route = "a"
        self.next({"a": self.join, "b": self.other}, condition="route")

    @step
    def other(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParallelSwitchFlow()
