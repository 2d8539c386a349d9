"""Broken: no step goes to 'report'."""

from grange import FlowSpec, step


class OrphanFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def report(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    OrphanFlow()
