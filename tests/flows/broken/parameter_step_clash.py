"""Broken: 'train' is a parameter and then a step; the step replaces the parameter."""

from grange import FlowSpec, Parameter, step


class ParameterStepClashFlow(FlowSpec):
    train = Parameter("train", default=True)

    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParameterStepClashFlow()
