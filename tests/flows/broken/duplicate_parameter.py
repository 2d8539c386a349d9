"""Broken: two parameters that are both --learning-rate on the command line."""

from grange import FlowSpec, Parameter, step


class DuplicateParameterFlow(FlowSpec):
    learning_rate = Parameter("learning_rate", default=0.1)
    lr = Parameter("Learning-Rate", default=0.2)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DuplicateParameterFlow()
