"""A step that fails while CLIENT_FAIL=1 is in the environment (so resume can fix it)."""

import os

from grange import FlowSpec, step


class ClientFailFlow(FlowSpec):
    @step
    def start(self):
        self.before = "saved before the failure"
        self.next(self.explode)

    @step
    def explode(self):
        print("about to explode")
        if os.environ.get("CLIENT_FAIL") == "1":
            raise ValueError("exploded on purpose")
        self.after = "recovered"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ClientFailFlow()
