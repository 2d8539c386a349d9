"""Broken: start goes to 'trian', a typo of the step 'train'."""

from grange import FlowSpec, step


class TypoTargetFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.trian)

    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TypoTargetFlow()
