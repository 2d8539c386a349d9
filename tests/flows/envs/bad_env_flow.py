"""A package no index has: the run stops before it is claimed."""

from grange import FlowSpec, pypi, step


class BadEnvFlow(FlowSpec):
    @pypi(packages={"no-such-package-grange-test": "1.0"})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BadEnvFlow()
