"""Invalid: @timeout given a string where a number is needed."""

from grange import FlowSpec, step, timeout


class InvalidTypeFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @timeout(seconds="soon")
    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InvalidTypeFlow()
