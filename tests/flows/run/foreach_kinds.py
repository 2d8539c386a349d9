"""A foreach over the kind of iterable the 'kind' parameter names."""

import itertools
import threading

from grange import FlowSpec, Parameter, step


def make_items(kind, size):
    if kind == "list":
        return [f"i{n}" for n in range(size)]
    if kind == "tuple":
        return tuple(f"i{n}" for n in range(size))
    if kind == "range":
        return range(size)
    if kind == "set":
        return {f"fruit-{n}" for n in range(size)}
    if kind == "generator":
        return (n * n for n in range(size))
    if kind == "dict":
        return {f"k{n}": n for n in range(size)}
    if kind == "dataframe":
        import pandas

        return pandas.DataFrame({"col": [10 * n for n in range(size)]})["col"]
    if kind == "endless":
        return itertools.count()
    if kind == "locks":
        return [threading.Lock() for _ in range(size)]
    if kind == "empty":
        return []
    if kind == "scalar":
        return 5
    raise ValueError(kind)


class ForeachKindsFlow(FlowSpec):
    kind = Parameter("kind", default="list")
    size = Parameter("size", default=3)

    @step
    def start(self):
        self.items = make_items(self.kind, self.size)
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.got = self.input
        self.position = self.index
        self.next(self.join)

    @step
    def join(self, inputs):
        self.pairs = [(i.position, i.got) for i in inputs]
        self.stored_items = inputs[0].items if self.kind != "dataframe" else None
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ForeachKindsFlow()
