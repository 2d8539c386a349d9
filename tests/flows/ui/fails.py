"""A run whose second step fails (the UI shows it failed, with the error in the logs)."""

from grange import FlowSpec, step


class UiFailFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.boom)

    @step
    def boom(self):
        print("about to fail")
        raise ValueError("the boom step fails on purpose")
        self.next(self.end)  # never reached

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UiFailFlow()
