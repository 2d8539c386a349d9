"""merge_artifacts in a join, in the way the 'mode' parameter says."""

from grange import FlowSpec, Parameter, step


class MergeRunFlow(FlowSpec):
    mode = Parameter("mode", default="exclude")

    @step
    def start(self):
        self.shared = ["same", "in", "both"]
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 1
        self.only_a = "a"
        self.next(self.join)

    @step
    def b(self):
        self.x = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        if self.mode == "exclude":
            self.merge_artifacts(inputs, exclude=["x"])
        elif self.mode == "include":
            self.merge_artifacts(inputs, include=["shared"])
        elif self.mode == "preset":
            self.x = 0
            self.merge_artifacts(inputs)
        elif self.mode == "conflict":
            self.merge_artifacts(inputs)
        elif self.mode == "missing":
            self.merge_artifacts(inputs, include=["shared", "nowhere"])
        elif self.mode == "both":
            self.merge_artifacts(inputs, include=["shared"], exclude=["x"])
        self.next(self.end)

    @step
    def end(self):
        if self.mode == "outside":
            self.merge_artifacts([])


if __name__ == "__main__":
    MergeRunFlow()
