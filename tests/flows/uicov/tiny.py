"""Two steps; the UI coverage tests start it by hand, by an event, and by another run."""

from grange import FlowSpec, step


class UiTinyFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        print("done")


if __name__ == "__main__":
    UiTinyFlow()
