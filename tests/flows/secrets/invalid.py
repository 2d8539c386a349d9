"""Invalid: @secrets names a provider that does not exist."""

from grange import FlowSpec, secrets, step


class InvalidSecretsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @secrets(sources=["aws-secret-manager.prod/db"])
    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InvalidSecretsFlow()
