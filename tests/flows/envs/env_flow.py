"""@pypi on one step (tabulate), none on the others; a foreach over the env step."""

import os
import sys

from grange import FlowSpec, Parameter, pypi, step


class EnvFlow(FlowSpec):
    fail = Parameter("fail", default=False, type=bool)
    width = Parameter("width", default=1, type=int)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.train, foreach="items")

    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def train(self):
        import tabulate

        self.version = tabulate.__version__
        self.pid = os.getpid()
        self.launched_by = "fork-server" if "_fork-server" in sys.argv else "step"
        self.executable = sys.executable
        self.task_pythonpath = os.environ.get("PYTHONPATH")  # what its subprocesses inherit
        self.next(self.join)

    @step
    def join(self, inputs):
        self.versions = sorted({i.version for i in inputs})
        try:
            import tabulate  # noqa: F401

            self.host_has_tabulate = True
        except ImportError:
            self.host_has_tabulate = False
        if self.fail and not os.environ.get("ENV_FLOW_FIXED"):
            raise RuntimeError("failing on purpose")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EnvFlow()
