"""Invalid: @retry placed below @step."""

from grange import FlowSpec, retry, step


class InvalidBelowFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @step
    @retry(times=2)
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InvalidBelowFlow()
