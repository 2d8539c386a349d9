"""Broken: the base flow's parameter 'train' has the name of a step of the subclass."""

from grange import FlowSpec, Parameter, step


class BaseWithParameter(FlowSpec):
    train = Parameter("train", default=True)


class InheritedParameterClashFlow(BaseWithParameter):
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
    InheritedParameterClashFlow()
