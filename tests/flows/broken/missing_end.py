"""Broken: the flow has no 'end' step."""

from grange import FlowSpec, step


class MissingEndFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.finish)

    @step
    def finish(self):
        pass


if __name__ == "__main__":
    MissingEndFlow()
