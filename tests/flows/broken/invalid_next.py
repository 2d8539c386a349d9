"""Broken: self.next() uses num_parallel=, which grange does not support."""

from grange import FlowSpec, step


class InvalidNextFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=4)

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
