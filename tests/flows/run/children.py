"""A step that starts processes and never waits for them: ``sleep 1000 &`` from a
shell, and a ``Popen`` child. Their pids go to $CHILDREN_DIR; with $CHILDREN_HOLD
set, the step then waits (to be killed) after writing ``holding`` there."""

import os
import subprocess
import time
from pathlib import Path

from grange import FlowSpec, step


class ChildrenFlow(FlowSpec):
    @step
    def start(self):
        folder = Path(os.environ["CHILDREN_DIR"])
        subprocess.run(f"sleep 1000 & echo $! > {folder}/background", shell=True, check=True)
        popen = subprocess.Popen(["sleep", "1000"])
        (folder / "popen").write_text(str(popen.pid))
        if os.environ.get("CHILDREN_HOLD"):
            (folder / "holding").write_text(str(os.getpid()))
            time.sleep(120)
        self.started = True
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ChildrenFlow()
