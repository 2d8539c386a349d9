"""Broken: the flow class name (130 characters) is too long for a datastore folder."""

from grange import FlowSpec, step


class TrainAndEvaluateAndEvaluateAndEvaluateAndEvaluateAndEvaluateAndEvaluateAndEvaluateAndEvaluateAndEvaluateAndEvaluateAndEvaluateFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TrainAndEvaluateAndEvaluateAndEvaluateAndEvaluateAndEvaluateAndEvaluateAndEvaluateAndEvaluateAndEvaluateAndEvaluateAndEvaluateFlow()
