"""Broken: the step after a @parallel step is not a join."""

from grange import FlowSpec, parallel, step


class ParallelJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=2)

    @parallel
    @step
    def train(self):
        self.next(self.evaluate)

    @step
    def evaluate(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParallelJoinFlow()
