"""@timeout with @catch: a step stuck in Python or in C is stopped and caught; the
flow goes on and ``end`` reads what was caught."""

from timeouts import slow

from grange import FlowSpec, Parameter, catch, step, timeout


class TimeoutCatchFlow(FlowSpec):
    how = Parameter("how", default="sleep")

    @step
    def start(self):
        self.next(self.slow)

    @catch(var="timed_out")
    @timeout(seconds=1)
    @step
    def slow(self):
        self.before = "set before the timeout"
        slow(self.how)
        self.next(self.end)

    @step
    def end(self):
        self.caught = str(self.timed_out)
        self.caught_type = self.timed_out.type


if __name__ == "__main__":
    TimeoutCatchFlow()
