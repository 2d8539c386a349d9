"""Broken: the join gathers branches 'a' and 'b' of a split, but not 'c'."""

from grange import FlowSpec, step


class UnbalancedJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.outer_a, self.outer_b)

    @step
    def outer_a(self):
        self.next(self.a, self.b, self.c)

    @step
    def a(self):
        self.next(self.inner_join)

    @step
    def b(self):
        self.next(self.inner_join)

    @step
    def c(self):
        self.next(self.outer_join)

    @step
    def inner_join(self, inputs):
        self.next(self.outer_join)

    @step
    def outer_b(self):
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UnbalancedJoinFlow()
