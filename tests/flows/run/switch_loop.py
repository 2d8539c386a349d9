"""A switch that loops back to its own step 'rounds' times.

With LOOP_FAIL_AT=N in the environment, round N raises (so resume can finish it).
"""

import os

from grange import FlowSpec, Parameter, step


class LoopRunFlow(FlowSpec):
    rounds = Parameter("rounds", default=3)

    @step
    def start(self):
        self.history = []
        self.next(self.loop)

    @step
    def loop(self):
        count = len(self.history) + 1
        if os.environ.get("LOOP_FAIL_AT") == str(count):
            raise RuntimeError(f"round {count} failed on purpose")
        self.history = [*self.history, count]
        self.more = "again" if count < self.rounds else "done"
        self.next({"again": self.loop, "done": self.end}, condition="more")

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LoopRunFlow()
