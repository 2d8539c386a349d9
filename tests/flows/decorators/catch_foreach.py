"""@catch on a foreach body: item 0 divides by zero; the join inspects ``input.<var>``."""

from grange import FlowSpec, catch, step


class CatchForeachFlow(FlowSpec):
    @step
    def start(self):
        self.params = [0, 1, 2]
        self.next(self.compute, foreach="params")

    @catch(var="compute_failed")
    @step
    def compute(self):
        self.div = self.input  # set before the exception: kept
        print(f"dividing by {self.div}")
        self.x = 5 / self.div
        self.next(self.join)

    @step
    def join(self, inputs):
        self.failed = [i.div for i in inputs if i.compute_failed]
        self.results = {i.div: (i.compute_failed is None) for i in inputs}
        self.messages = [str(i.compute_failed) for i in inputs if i.compute_failed]
        self.xs = sorted(i.x for i in inputs if not i.compute_failed)
        for input in inputs:
            if input.compute_failed:
                print(f"compute failed for parameter: {input.div}")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CatchForeachFlow()
