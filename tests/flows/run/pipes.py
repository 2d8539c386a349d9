"""One task closes its stdout and runs on while other tasks start and print.

The runtime closes its end of a pipe at EOF; the descriptor number then goes to
the next task's pipe. When the first task exits with its stderr still held open
(by a child process it leaves behind), the runtime must not mistake that other
task's pipe for the first task's stdout (it once did, and the other task died of
a broken pipe).
"""

import os
import subprocess
import sys
import time

from grange import FlowSpec, step


class PipesFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.closer, self.fan)

    @step
    def closer(self):
        print("closing stdout")
        sys.stdout.flush()
        os.close(1)
        time.sleep(0.6)
        print("still on stderr", file=sys.stderr)
        # A child that outlives the task and holds its stderr open for a moment.
        subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(1)"], stdout=subprocess.DEVNULL
        )
        self.next(self.join)

    @step
    def fan(self):
        time.sleep(0.2)  # let the closer's stdout reach EOF first
        self.items = list(range(4))
        self.next(self.printer, foreach="items")

    @step
    def printer(self):
        for line in range(10):
            print(f"item {self.input} line {line}")
            time.sleep(0.1)
        self.next(self.printed)

    @step
    def printed(self, inputs):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PipesFlow()
