"""A foreach over an @pypi step whose second task fails while FAIL_ONE is set."""

import os

from grange import FlowSpec, pypi, step


class PartialEnvFlow(FlowSpec):
    @step
    def start(self):
        self.items = [0, 1]
        self.next(self.train, foreach="items")

    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def train(self):
        import tabulate

        self.version = tabulate.__version__
        if self.input == 1 and os.environ.get("FAIL_ONE"):
            raise RuntimeError("failing on purpose")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PartialEnvFlow()
