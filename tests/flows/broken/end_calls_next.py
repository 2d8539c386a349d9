"""Broken: the end step calls self.next()."""

from grange import FlowSpec, step


class EndCallsNextFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        self.done = True
        self.next(self.train)


if __name__ == "__main__":
    EndCallsNextFlow()
