"""No environment decorator: --with pypi:... gives one to every step."""

from grange import FlowSpec, step


def _version(name):
    try:
        return __import__(name).__version__
    except ImportError:
        return None


class PlainEnvFlow(FlowSpec):
    @step
    def start(self):
        self.tabulate = _version("tabulate")
        self.next(self.end)

    @step
    def end(self):
        self.tabulate = _version("tabulate")


if __name__ == "__main__":
    PlainEnvFlow()
