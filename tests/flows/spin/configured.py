"""A flow whose Config drives a decorator and a step: spin and run_step bind its values."""

import os

from grange import Config, FlowSpec, environment, step


class SpinConfigFlow(FlowSpec):
    cfg = Config("cfg", default_value={"scale": 2, "greeting": "default"})

    @step
    def start(self):
        self.data = [1, 2, 3]
        self.next(self.train)

    @environment(vars={"GREETING": cfg.greeting})
    @step
    def train(self):
        self.model = sum(self.data) * self.cfg.scale
        self.greeting = os.environ["GREETING"]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SpinConfigFlow()
