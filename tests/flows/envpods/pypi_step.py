"""@pypi on one step: deployed, only that step's pod rebuilds tabulate's environment
(its container's own command carries the lock); the others run in the image's Python."""

from grange import FlowSpec, pypi, step


def has_tabulate():
    try:
        import tabulate
    except ImportError:
        return False
    return tabulate.__version__


class PypiStepFlow(FlowSpec):
    @step
    def start(self):
        self.start_has = has_tabulate()
        self.next(self.table)

    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def table(self):
        import tabulate

        self.text = tabulate.tabulate([["a", 1]])
        self.table_has = has_tabulate()
        self.next(self.end)

    @step
    def end(self):
        assert self.table_has == "0.9.0" and self.start_has is False
        self.end_has = has_tabulate()


if __name__ == "__main__":
    PypiStepFlow()
