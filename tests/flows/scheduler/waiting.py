"""Started by the event ``hold``; its start step waits until the file named by the
payload's ``release`` exists (a run that goes on while its scheduler restarts)."""

import os
import time

from grange import FlowSpec, Parameter, step, trigger


@trigger(event="hold")
class WaitingFlow(FlowSpec):
    release = Parameter("release", default="")

    @step
    def start(self):
        deadline = time.monotonic() + 300
        while not os.path.exists(self.release) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.released = os.path.exists(self.release)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WaitingFlow()
