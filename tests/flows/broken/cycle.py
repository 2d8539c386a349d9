"""Broken: a switch in 'check' goes back to 'train', an earlier step (a loop)."""

from grange import FlowSpec, step


class CycleFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):
        self.next(self.check)

    @step
    def check(self):
        self.verdict = "good"
        self.next({"retry": self.train, "good": self.end}, condition="verdict")

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CycleFlow()
