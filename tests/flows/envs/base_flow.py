"""@pypi_base for every step; one step overrides python, one opts out (disabled=True)."""

from grange import FlowSpec, pypi, pypi_base, step


def _version(name):
    try:
        return __import__(name).__version__
    except ImportError:
        return None


@pypi_base(packages={"tabulate": "0.9.0"})
class BaseEnvFlow(FlowSpec):
    @step
    def start(self):
        self.tabulate = _version("tabulate")
        self.next(self.more)

    @pypi(packages={"six": ""})
    @step
    def more(self):
        self.tabulate = _version("tabulate")
        self.six = _version("six")
        self.next(self.end)

    @pypi(disabled=True)
    @step
    def end(self):
        self.tabulate = _version("tabulate")


if __name__ == "__main__":
    BaseEnvFlow()
