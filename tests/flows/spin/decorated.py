"""A step with decorators that apply in a spin (@card, @timeout, @environment) and one
that does not (@catch: a spin shows the failure)."""

import os
import time

from grange import FlowSpec, card, catch, environment, step, timeout


class SpinDecoratedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.work)

    @card
    @catch(var="error")
    @timeout(seconds=2)
    @environment(vars={"SPIN_GREETING": "hello"})
    @step
    def work(self):
        self.greeting = os.environ.get("SPIN_GREETING")
        if os.environ.get("SPIN_SLOW"):
            time.sleep(30)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SpinDecoratedFlow()
