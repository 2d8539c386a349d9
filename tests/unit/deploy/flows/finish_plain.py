"""Runs when a run of TrainingFlow succeeds."""

from grange import FlowSpec, step, trigger_on_finish


@trigger_on_finish(flow="TrainingFlow")
class InferenceFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InferenceFlow()
