"""For --with: ``flaky`` (no decorators) fails its first $FLAKY_FAILS attempts;
``guarded`` has its own @retry(times=0) and fails when $GUARDED_FAILS is set."""

import os

from grange import FlowSpec, current, retry, step


class WithFlakyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky)

    @step
    def flaky(self):
        print(f"flaky attempt {current.retry_count}")
        if current.retry_count < int(os.environ.get("FLAKY_FAILS", "0")):
            raise ConnectionError(f"flaky failure on attempt {current.retry_count}")
        self.flaky_attempt = current.retry_count
        self.next(self.guarded)

    @retry(times=0)
    @step
    def guarded(self):
        print(f"guarded attempt {current.retry_count}")
        if os.environ.get("GUARDED_FAILS"):
            raise RuntimeError("not safe to retry")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WithFlakyFlow()
