"""Its top level imports a module that the environment's Python lacks (simulated:
only in the processes of the @pypi step, which run `step` or `_fork-server`)."""

import sys

if "_fork-server" in sys.argv or "step" in sys.argv:
    import no_such_module_grange_test  # noqa: F401

from grange import FlowSpec, pypi, step


class TopImportFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TopImportFlow()
