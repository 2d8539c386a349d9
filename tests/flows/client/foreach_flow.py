"""A foreach whose tasks print their item, joined into a list."""

from grange import FlowSpec, step


class ClientForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = ["a", "b", "c"]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        print(f"working on {self.input}")
        self.out = self.input.upper()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.outs = [i.out for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ClientForeachFlow()
