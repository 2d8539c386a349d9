"""@pypi_base and @pypi pin tabulate to two versions: an error at the step's @pypi."""

from grange import FlowSpec, pypi, pypi_base, step


@pypi_base(packages={"tabulate": "0.9.0"})
class ClashFlow(FlowSpec):
    @pypi(packages={"tabulate": "0.8.10"})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ClashFlow()
