"""A static three-way branch and its join."""

from grange import FlowSpec, step


class Branch3Flow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b, self.c)

    @step
    def a(self):
        self.value = "a"
        self.next(self.join)

    @step
    def b(self):
        self.value = "b"
        self.next(self.join)

    @step
    def c(self):
        self.value = "c"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        assert self.values == ["a", "b", "c"]


if __name__ == "__main__":
    Branch3Flow()
