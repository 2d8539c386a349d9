"""Broken: num_parallel= goes to a step that is not @parallel."""

from grange import FlowSpec, step


class ParallelTargetFlow(FlowSpec):
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
    ParallelTargetFlow()
