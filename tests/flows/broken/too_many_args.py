"""Broken: the step 'train' takes an extra argument."""

from grange import FlowSpec, step


class TooManyArgsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self, inputs, alpha):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TooManyArgsFlow()
