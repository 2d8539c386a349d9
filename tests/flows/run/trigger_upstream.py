"""An upstream flow: its end event triggers trigger_downstream.py. ``--fail`` fails it."""

from grange import FlowSpec, Parameter, step


class TriggerUpstreamFlow(FlowSpec):
    fail = Parameter("fail", default=False)

    @step
    def start(self):
        self.model = "model-v1"
        self.next(self.end)

    @step
    def end(self):
        if self.fail:
            raise RuntimeError("asked to fail")


if __name__ == "__main__":
    TriggerUpstreamFlow()
