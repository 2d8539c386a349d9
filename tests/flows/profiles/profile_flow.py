"""A flow that records the profile its tasks run under."""

import os

from grange import FlowSpec, step


class ProfileFlow(FlowSpec):
    @step
    def start(self):
        self.profile = os.environ.get("GRANGE_PROFILE")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ProfileFlow()
