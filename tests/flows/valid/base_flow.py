from grange import FlowSpec, Parameter, step


class BaseFlow(FlowSpec):
    """A base flow whose steps and parameters are inherited."""

    seed = Parameter("seed", default=7, type=int)

    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):
        self.model = self.seed
        self.next(self.end)

    @step
    def end(self):
        pass
