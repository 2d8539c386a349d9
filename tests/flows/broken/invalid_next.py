"""Broken: num_parallel= is not a whole number of at least 1."""

from grange import FlowSpec, parallel, step


class InvalidNextFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=0)

    @parallel
    @step
    def train(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InvalidNextFlow()
