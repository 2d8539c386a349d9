"""Broken: 'gather' takes 'inputs' but no split comes before it."""

from grange import FlowSpec, step


class JoinWithoutSplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    JoinWithoutSplitFlow()
