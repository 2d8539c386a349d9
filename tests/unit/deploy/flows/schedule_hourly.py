"""Runs every hour."""

from grange import FlowSpec, schedule, step


@schedule(hourly=True)
class HourlyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    HourlyFlow()
