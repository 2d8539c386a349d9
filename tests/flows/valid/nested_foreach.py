from grange import FlowSpec, step


class NestedForeachFlow(FlowSpec):
    @step
    def start(self):
        self.xs = ["a", "b"]
        self.next(self.outer, foreach="xs")

    @step
    def outer(self):
        self.ys = [1, 2, 3]
        self.next(self.inner, foreach="ys")

    @step
    def inner(self):
        self.pair = (self.input,)
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NestedForeachFlow()
