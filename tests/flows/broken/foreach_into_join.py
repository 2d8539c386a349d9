"""Broken: the foreach goes straight into its join."""

from grange import FlowSpec, step


class ForeachIntoJoinFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.join, foreach="items")

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ForeachIntoJoinFlow()
