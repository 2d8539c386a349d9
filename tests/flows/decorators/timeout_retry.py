"""@timeout with @retry: attempt 0 is stuck (in Python or in C); attempt 1 is quick."""

from timeouts import slow

from grange import FlowSpec, Parameter, current, retry, step, timeout


class TimeoutRetryFlow(FlowSpec):
    how = Parameter("how", default="sleep")

    @step
    def start(self):
        self.next(self.slow)

    @retry(times=1, minutes_between_retries=0)
    @timeout(seconds=1)
    @step
    def slow(self):
        print(f"attempt {current.retry_count}", flush=True)
        if current.retry_count == 0:
            slow(self.how)
        self.attempt = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TimeoutRetryFlow()
