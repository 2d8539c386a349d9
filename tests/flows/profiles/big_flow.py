"""A flow whose train step asks for more CPUs than a restricted profile allows."""

from grange import FlowSpec, resources, step


class BigFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @resources(cpu=32, memory=1000)
    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BigFlow()
