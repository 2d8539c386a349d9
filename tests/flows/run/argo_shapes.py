"""Shapes inside a foreach: a switch whose cases merge, then a static split and its
join, then the foreach's join (each task finds its parents itself on Argo)."""

from grange import FlowSpec, step


class ArgoShapesFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3, 4]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.side = "even" if self.input % 2 == 0 else "odd"
        self.next({"even": self.even, "odd": self.odd}, condition="side")

    @step
    def even(self):
        self.label = f"even-{self.input}"
        self.next(self.merge)

    @step
    def odd(self):
        self.label = f"odd-{self.input}"
        self.next(self.merge)

    @step
    def merge(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        self.part = f"{self.label}/left"
        self.next(self.pair)

    @step
    def right(self):
        self.part = f"{self.label}/right"
        self.next(self.pair)

    @step
    def pair(self, inputs):
        self.parts = [i.part for i in inputs]
        self.where = self.index
        self.next(self.join)

    @step
    def join(self, inputs):
        self.all_parts = [i.parts for i in inputs]
        self.positions = [i.where for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ArgoShapesFlow()
