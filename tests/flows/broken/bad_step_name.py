"""Broken: a step name has capital letters."""

from grange import FlowSpec, step


class BadStepNameFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.TrainModel)

    @step
    def TrainModel(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BadStepNameFlow()
