"""A foreach whose item $FAIL_ITEM raises; the tasks record current.origin_run_id."""

import os

from grange import FlowSpec, current, step


class FailRunFlow(FlowSpec):
    @step
    def start(self):
        self.before = "saved before the failure"
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        print(f"working on {self.input}")
        if os.environ.get("FAIL_ITEM") == str(self.input):
            raise ValueError(f"item {self.input} failed on purpose")
        self.out = self.input * 10
        self.origin = current.origin_run_id
        self.next(self.join)

    @step
    def join(self, inputs):
        self.outs = [i.out for i in inputs]
        self.origins = [i.origin for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.origin = current.origin_run_id


if __name__ == "__main__":
    FailRunFlow()
