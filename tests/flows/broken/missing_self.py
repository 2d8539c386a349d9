"""Broken: the step 'train' has no 'self' argument."""

from grange import FlowSpec, step


class MissingSelfFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @step
    def train():
        pass

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MissingSelfFlow()
