"""A flow file whose imports take $IMPORT_SECONDS in task processes (a heavy library),
and a @timeout(seconds=1) step that needs a fraction of that second."""

import os
import sys
import time

from grange import FlowSpec, step, timeout

if "step" in sys.argv:  # only a task started with --no-fork, not the runtime
    time.sleep(float(os.environ.get("IMPORT_SECONDS", "0")))


class SlowImportFlow(FlowSpec):
    @timeout(seconds=1)
    @step
    def start(self):
        time.sleep(0.1)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SlowImportFlow()
