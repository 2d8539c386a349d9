"""A flow storing an artifact whose unpickling would run a command, beside plain ones."""

import os

import numpy as np
import pandas as pd

from grange import FlowSpec, step


class Payload:
    def __reduce__(self):
        return os.system, (f"touch {os.environ['UI_MARKER']}",)


class UiPickledFlow(FlowSpec):
    @step
    def start(self):
        self.evil = Payload()
        self.frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
        self.array = np.arange(12).reshape(3, 4)
        self.plain = {"k": [1, 2]}
        setattr(self, "odd name/../x", 2)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UiPickledFlow()
