"""A flow whose every user-controlled string tries to be HTML, with a long log and a resumable failure."""

import os

from grange import FlowSpec, Parameter, step

HOSTILE = "<script>alert('xss')</script>"


class UiHostileFlow(FlowSpec):
    label = Parameter("label", default="<img src=x onerror=alert('param')>")

    @step
    def start(self):
        print(HOSTILE)
        for i in range(4000):  # ~200 KB of stdout: the page shows the tail
            print(f"line {i:05d} " + "x" * 40)
        print("the last line")
        self.note = HOSTILE
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.square for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        if os.environ.get("UI_FAIL") == "1":
            raise ValueError("failed on purpose <b>bold</b>")
        print("done")


if __name__ == "__main__":
    UiHostileFlow()
