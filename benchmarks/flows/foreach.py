"""A foreach over ``--width`` trivial tasks, then a join that reads nothing."""

from grange import FlowSpec, Parameter, step


class ForeachFlow(FlowSpec):
    width = Parameter("width", default=100, type=int, help="number of foreach tasks")

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ForeachFlow()
