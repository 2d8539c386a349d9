"""Broken: separator= on a parameter that is not of type str."""

from grange import FlowSpec, Parameter, step


class InvalidParameterFlow(FlowSpec):
    sizes = Parameter("sizes", type=int, separator=",")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InvalidParameterFlow()
