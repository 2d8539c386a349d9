"""Runs at 06:30 on weekdays, Paris time."""

from grange import FlowSpec, schedule, step


@schedule(cron="30 6 * * 1-5", timezone="Europe/Paris")
class CronFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CronFlow()
