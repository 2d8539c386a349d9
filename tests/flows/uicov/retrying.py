"""A step whose attempt 0 fails and attempt 1 succeeds (@retry(times=1))."""

from grange import FlowSpec, current, retry, step


class UiRetryFlow(FlowSpec):
    @retry(times=1)
    @step
    def start(self):
        print(f"log of attempt {current.retry_count}")
        if current.retry_count == 0:
            raise ValueError("attempt zero breaks on purpose")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UiRetryFlow()
