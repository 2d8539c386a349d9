"""Broken: start calls self.next() twice (once was read as the transition, the other step looked orphaned)."""

from grange import FlowSpec, step


class NextTwiceFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)
        self.next(self.evaluate)

    @step
    def train(self):
        self.next(self.end)

    @step
    def evaluate(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NextTwiceFlow()
