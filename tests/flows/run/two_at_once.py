"""A foreach whose tasks print and keep the run's 'value' (for two runs at once)."""

from grange import FlowSpec, Parameter, step


class ConcurrentRunFlow(FlowSpec):
    value = Parameter("value", default="x")

    @step
    def start(self):
        self.items = list(range(8))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        print(f"value={self.value} item={self.input}")
        self.out = f"{self.value}-{self.input}"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.outs = [i.out for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ConcurrentRunFlow()
