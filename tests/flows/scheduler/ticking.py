"""A flow on a per-minute schedule."""

from grange import FlowSpec, schedule, step


@schedule(cron="* * * * *")
class TickingFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TickingFlow()
