"""@pypi_base on the flow: every step's pod rebuilds the same environment (one lock),
but the step that says @pypi(disabled=True), which runs in the image's Python."""

from grange import FlowSpec, pypi, pypi_base, step


def has_tabulate():
    try:
        import tabulate
    except ImportError:
        return False
    return tabulate.__version__


@pypi_base(packages={"tabulate": "0.9.0"})
class PypiBaseFlow(FlowSpec):
    @step
    def start(self):
        self.start_has = has_tabulate()
        self.next(self.plain)

    @pypi(disabled=True)
    @step
    def plain(self):
        self.plain_has = has_tabulate()
        self.next(self.end)

    @step
    def end(self):
        assert self.start_has == "0.9.0" and self.plain_has is False
        self.end_has = has_tabulate()


if __name__ == "__main__":
    PypiBaseFlow()
