"""A linear flow to spin: what train computes is what the tests edit."""

from grange import FlowSpec, Parameter, step


class SpinLinearFlow(FlowSpec):
    alpha = Parameter("alpha", default=2.0, type=float)

    @step
    def start(self):
        self.data = [1, 2, 3]
        self.next(self.train)

    @step
    def train(self):
        print("training on", self.data)
        self.model = sum(self.data) * self.alpha  # EDIT
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SpinLinearFlow()
