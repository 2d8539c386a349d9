"""Broken: the first step is called 'begin' instead of 'start'."""

from grange import FlowSpec, step


class MissingStartFlow(FlowSpec):
    @step
    def begin(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MissingStartFlow()
