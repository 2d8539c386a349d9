"""The smallest flow: start -> end, nothing stored but what the runtime records."""

from grange import FlowSpec, step


class StartEndFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    StartEndFlow()
