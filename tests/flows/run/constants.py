"""Class attributes are the flow's constants, as in Metaflow: stored with the run,
readable in every step and from the client, and read-only in steps."""

from grange import FlowSpec, Parameter, step


class ConstantsRunFlow(FlowSpec):
    limit = 123
    names = ["a", "b"]
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self):
        try:
            self.limit = 122
        except AttributeError as err:
            self.refused = str(err)
        self.seen = (self.limit, list(self.names), self.alpha)
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        print("limit", self.limit)
        del self.limit


if __name__ == "__main__":
    ConstantsRunFlow()
