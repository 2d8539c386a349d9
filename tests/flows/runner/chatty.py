"""Prints a numbered line every 50 ms until $CHATTY_STOP exists (the test streams and kills it)."""

import os
import time
from pathlib import Path

from grange import FlowSpec, step


class ChattyFlow(FlowSpec):
    @step
    def start(self):
        folder = Path(os.environ["CHATTY_DIR"])
        (folder / f"{os.getpid()}.pid").write_text(str(os.getpid()))
        n = 0
        while not (folder / "stop").exists():
            print(f"tick {n}", flush=True)
            n += 1
            time.sleep(0.05)
        self.ticks = n
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ChattyFlow()
