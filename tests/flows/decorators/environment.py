"""@environment: variables visible in the step's task, and only there."""

import os

from grange import FlowSpec, environment, step

AT_IMPORT = os.environ.get("GREETING")  # what a library reading it at import would see


class EnvironmentFlow(FlowSpec):
    @environment(vars={"GREETING": "hello", "LEVEL": 3})
    @step
    def start(self):
        self.greeting = os.environ.get("GREETING")
        self.level = os.environ.get("LEVEL")
        self.greeting_at_import = AT_IMPORT
        self.next(self.end)

    @step
    def end(self):
        self.greeting_in_end = os.environ.get("GREETING")
        self.extra = os.environ.get("EXTRA")


if __name__ == "__main__":
    EnvironmentFlow()
