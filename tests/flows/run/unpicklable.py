"""start sets an artifact that cannot be pickled."""

import threading

from grange import FlowSpec, step


class UnpicklableFlow(FlowSpec):
    @step
    def start(self):
        self.fine = "picklable"
        self.lock = threading.Lock()
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UnpicklableFlow()
