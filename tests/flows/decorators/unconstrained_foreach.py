"""The same foreach without @resources: only --max-workers bounds it (and
``--with resources:cpu=N`` makes its tasks reserve CPUs)."""

from resources_foreach import work_alone

from grange import FlowSpec, step


class UnconstrainedForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [0, 1, 2]
        self.next(self.work, foreach="items")

    @step
    def work(self):
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
    UnconstrainedForeachFlow()
