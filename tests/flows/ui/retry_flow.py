"""A step that fails once, then waits (for UI_RELEASE) in its retry: logs of two attempts."""

import os
import time
from pathlib import Path

from grange import FlowSpec, current, retry, step


class UiRetryFlow(FlowSpec):
    @retry(times=1, minutes_between_retries=0)
    @step
    def start(self):
        print(f"\x1b[31mattempt {current.retry_count} says hello\x1b[0m", flush=True)
        if current.retry_count == 0:
            raise RuntimeError("the first attempt fails on purpose")
        Path(os.environ["UI_RELEASE"] + ".waiting").touch()
        while not os.path.exists(os.environ["UI_RELEASE"]):
            time.sleep(0.05)
        print("attempt 1 done", flush=True)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UiRetryFlow()
