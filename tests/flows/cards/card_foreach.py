"""A foreach whose tasks each have a card; no step has @card (see --with card)."""

import os

from grange import FlowSpec, step


class CardForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = ["a", "b", "c"]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.item = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.items_seen = sorted(i.item for i in inputs)
        if os.environ.get("CARD_FAIL_JOIN"):
            raise RuntimeError("the join fails in the first run")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CardForeachFlow()
