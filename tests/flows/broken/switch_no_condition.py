"""Broken: a dict of cases is given to self.next() without condition=."""

from grange import FlowSpec, step


class SwitchNoConditionFlow(FlowSpec):
    @step
    def start(self):
        self.next({"a": self.fast, "b": self.slow})

    @step
    def fast(self):
        self.next(self.end)

    @step
    def slow(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchNoConditionFlow()
