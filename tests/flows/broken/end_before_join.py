"""Broken: the foreach branches go to the end step without a join."""

from grange import FlowSpec, step


class EndBeforeJoinFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EndBeforeJoinFlow()
