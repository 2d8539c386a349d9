"""Artifacts of three kinds whose typed previews the UI shows: a DataFrame, an array, a scalar."""

from grange import FlowSpec, step


class UiPreviewFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np
        import pandas as pd

        self.frame = pd.DataFrame(
            {"city": ["Oslo", "Lima", "Pune"] * 100, "temp": [3.5, 19.25, 31.0] * 100}
        )
        self.matrix = np.arange(12, dtype="float32").reshape(3, 4)
        self.answer = 42_4242
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UiPreviewFlow()
