"""Runs once both events arrived since midnight; fields mapped to parameters."""

from grange import FlowSpec, Parameter, step, trigger


@trigger(
    events=[
        {"name": "data.ready", "parameters": {"table": "table_name"}},
        {"name": "features-ready", "parameters": ["version"]},
    ],
    options={"reset_at": {"cron": "0 0 * * *", "timezone": "America/New_York"}},
)
class JoinFlow(FlowSpec):
    table = Parameter("table", default="events")
    version = Parameter("version", type=int, required=True)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    JoinFlow()
