"""Valid: a gang of @parallel tasks, its size from a parameter, and its join."""

from grange import FlowSpec, Parameter, parallel, retry, step


class ParallelFlow(FlowSpec):
    nodes = Parameter("nodes", default=2, type=int)

    @step
    def start(self):
        self.next(self.train, num_parallel=self.nodes)

    @retry(times=1)
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
    ParallelFlow()
