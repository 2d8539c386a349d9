"""Each task of a foreach asks for more memory than any machine has: the tasks run,
one at a time, and the runtime says so once."""

from resources_foreach import work_alone

from grange import FlowSpec, resources, step


class OversizedFlow(FlowSpec):
    @step
    def start(self):
        self.items = [0, 1, 2]
        self.next(self.big, foreach="items")

    @resources(cpu=1, memory=100_000_000)
    @step
    def big(self):
        self.together = work_alone(self.index)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.peak = max(i.together for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    OversizedFlow()
