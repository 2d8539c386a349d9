"""Broken: the step 'train' forgets its self.next()."""

from grange import FlowSpec, step


class NoNextFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):
        self.model = "fitted"

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NoNextFlow()
