"""Broken: a step is named 'input', which every flow already has (self.input)."""

from grange import FlowSpec, step


class ReservedStepFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.input)

    @step
    def input(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ReservedStepFlow()
