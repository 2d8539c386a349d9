"""Broken: a step goes back to the start step."""

from grange import FlowSpec, step


class StartHasInputsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):
        self.next(self.start)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    StartHasInputsFlow()
