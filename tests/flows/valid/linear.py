from grange import FlowSpec, Parameter, step


class LinearFlow(FlowSpec):
    """A straight line of steps."""

    alpha = Parameter("alpha", default=0.5, help="learning rate")

    @step
    def start(self):
        """Begin."""
        self.x = 1
        self.next(self.middle)

    @step
    def middle(self):
        self.x += 1
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LinearFlow()
