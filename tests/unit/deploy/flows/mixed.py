"""A switch inside a foreach body, a static branch inside the body, then a switch
whose case is also where the cases meet again."""

from grange import FlowSpec, step


class MixedFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.kind = "even" if self.input % 2 == 0 else "odd"
        self.next({"even": self.even, "odd": self.odd}, condition="kind")

    @step
    def even(self):
        self.next(self.fan)

    @step
    def odd(self):
        self.next(self.fan)

    @step
    def fan(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        self.next(self.meet)

    @step
    def right(self):
        self.next(self.meet)

    @step
    def meet(self, inputs):
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.go = "extra"
        self.next(self.decide)

    @step
    def decide(self):
        self.next({"extra": self.extra, "skip": self.end}, condition="go")

    @step
    def extra(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MixedFlow()
