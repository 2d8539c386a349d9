"""@catch when the task's process dies (no Python exception to catch in it): the
runtime runs a fallback attempt, without user code, and the flow goes on."""

import os
import signal

from grange import FlowSpec, catch, step


class CatchCrashFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.crash)

    @catch(var="crashed")
    @step
    def crash(self):
        print("about to die", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        self.next(self.end)

    @step
    def end(self):
        self.what = str(self.crashed)
        self.crashed_type = self.crashed.type


if __name__ == "__main__":
    CatchCrashFlow()
