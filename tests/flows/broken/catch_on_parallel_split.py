"""Broken: @catch on the step that starts a gang."""

from grange import FlowSpec, catch, parallel, step


class CatchOnParallelSplitFlow(FlowSpec):
    @catch(var="failed")
    @step
    def start(self):
        self.next(self.train, num_parallel=2)

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
    CatchOnParallelSplitFlow()
