"""Item 1 of a foreach kills its own process, the way 'how' says."""

import ctypes
import os
import signal
import sys

from grange import FlowSpec, Parameter, step


class CrashRunFlow(FlowSpec):
    how = Parameter("how", default="segv")

    @step
    def start(self):
        self.items = [0, 1, 2]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        if self.input == 1:
            print("about to crash", flush=True)
            if self.how == "segv":
                os.kill(os.getpid(), signal.SIGSEGV)
            elif self.how == "null":
                ctypes.string_at(0)  # a real segmentation fault
            elif self.how == "exit":
                os._exit(3)
            elif self.how == "sysexit":
                sys.exit(3)
            elif self.how == "interrupt":
                raise KeyboardInterrupt
        self.out = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CrashRunFlow()
