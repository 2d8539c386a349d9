"""A foreach inside a foreach: foreach_stack(), and a join per level."""

from grange import FlowSpec, step


class NestedForeachRunFlow(FlowSpec):
    @step
    def start(self):
        self.outer = ["x", "y"]
        self.next(self.mid, foreach="outer")

    @step
    def mid(self):
        self.letter = self.input
        self.inner = [1, 2, 3]
        self.next(self.leaf, foreach="inner")

    @step
    def leaf(self):
        self.stack = self.foreach_stack()
        self.value = f"{self.letter}{self.input}"
        self.position = self.index
        self.next(self.join_inner)

    @step
    def join_inner(self, inputs):
        self.values = [i.value for i in inputs]
        self.next(self.join_outer)

    @step
    def join_outer(self, inputs):
        self.grid = [i.values for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NestedForeachRunFlow()
