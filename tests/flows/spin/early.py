"""A flow whose start fails: no run of it ever reaches 'middle'."""

from grange import FlowSpec, step


class SpinEarlyFlow(FlowSpec):
    @step
    def start(self):
        raise ValueError("start fails")
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SpinEarlyFlow()
