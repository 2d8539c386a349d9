"""Runs every day at midnight, with a parameter's default."""

from grange import FlowSpec, Parameter, schedule, step


@schedule(daily=True)
class DailyFlow(FlowSpec):
    size = Parameter("size", default=10)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DailyFlow()
