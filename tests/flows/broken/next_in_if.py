"""Broken: self.next() is chosen by an if/else instead of a switch."""

from grange import FlowSpec, step


class NextInIfFlow(FlowSpec):
    @step
    def start(self):
        self.score = 0.9
        if self.score > 0.5:
            self.next(self.deploy)
        else:
            self.next(self.end)

    @step
    def deploy(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NextInIfFlow()
