"""Broken: a @parallel step reached without num_parallel=."""

from grange import FlowSpec, parallel, step


class ParallelCallerFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @parallel
    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParallelCallerFlow()
