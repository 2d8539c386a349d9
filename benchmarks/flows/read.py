"""A tiny flow whose runs fill the store for the client-read benchmark."""

from grange import FlowSpec, Parameter, step


class ReadFlow(FlowSpec):
    value = Parameter("value", default=0, type=int)

    @step
    def start(self):
        self.x = self.value
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ReadFlow()
