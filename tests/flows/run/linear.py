"""start -> middle -> end: artifacts set, changed, inherited unchanged, private."""

from grange import FlowSpec, step


class LinearRunFlow(FlowSpec):
    @step
    def start(self):
        self.kept = {"same": [1, 2, 3]}
        self.counter = 1
        self._private = "hidden"
        self.next(self.middle)

    @step
    def middle(self):
        self.counter += 1
        self.kept_seen = self.kept == {"same": [1, 2, 3]}
        self.next(self.end)

    @step
    def end(self):
        self.counter *= 10


if __name__ == "__main__":
    LinearRunFlow()
