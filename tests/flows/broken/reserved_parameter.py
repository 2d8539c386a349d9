"""Broken: a parameter named 'tags', which is an option of `run`."""

from grange import FlowSpec, Parameter, step


class ReservedParameterFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)
    tags = Parameter("tags", default="a,b")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ReservedParameterFlow()
