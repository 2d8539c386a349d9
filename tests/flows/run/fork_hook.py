"""A flow that registers its own after-fork hook: it must run in every forked task."""

import os

from grange import FlowSpec, step

FORKED_INTO: list[int] = []  # pids of the processes the hook ran in
os.register_at_fork(after_in_child=lambda: FORKED_INTO.append(os.getpid()))


class ForkHookFlow(FlowSpec):
    @step
    def start(self):
        self.pid = os.getpid()
        self.hook_ran_in = list(FORKED_INTO)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ForkHookFlow()
