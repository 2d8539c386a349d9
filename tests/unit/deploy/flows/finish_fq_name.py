"""Runs when the production TrainingFlow of project 'fraud' succeeds."""

from grange import FlowSpec, step, trigger_on_finish


@trigger_on_finish(flow="fraud.prod.TrainingFlow")
class ReportFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ReportFlow()
