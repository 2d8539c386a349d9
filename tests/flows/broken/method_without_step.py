"""Broken: start goes to 'prepare', a method that lacks @step."""

from grange import FlowSpec, step


class MethodWithoutStepFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.prepare)

    def prepare(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MethodWithoutStepFlow()
