from base_flow import BaseFlow

from grange import Parameter, step


class InheritedFlow(BaseFlow):
    """Overrides one step of its base and adds a parameter."""

    depth = Parameter("depth", default=3)

    @step
    def train(self):
        self.model = self.seed * self.depth
        self.next(self.evaluate)

    @step
    def evaluate(self):
        self.next(self.end)


if __name__ == "__main__":
    InheritedFlow()
