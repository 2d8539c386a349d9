"""Invalid: an unknown argument of @retry."""

from grange import FlowSpec, retry, step


class InvalidArgsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @retry(times=2, minutes=1)
    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InvalidArgsFlow()
