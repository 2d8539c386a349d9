"""A step that fails its first $FLAKY_FAILS attempts (default 2), then succeeds.

Each attempt prints its number and when it started; a failing one prints when it
gave up. ``@retry`` waits 0.01 minutes (0.6 s) between attempts.
"""

import os
import time

from grange import FlowSpec, current, retry, step


class FlakyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky)

    @retry(times=3, minutes_between_retries=0.01)
    @step
    def flaky(self):
        print(f"attempt {current.retry_count} started at {time.time():.6f}")
        self.attempt = current.retry_count
        if current.retry_count < int(os.environ.get("FLAKY_FAILS", "2")):
            print(f"attempt {current.retry_count} failing at {time.time():.6f}")
            raise ConnectionError(f"transient failure on attempt {current.retry_count}")
        print(f"attempt {current.retry_count} succeeded")
        self.next(self.end)

    @step
    def end(self):
        self.final_attempt = self.attempt


if __name__ == "__main__":
    FlakyFlow()
