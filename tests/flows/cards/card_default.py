"""A default card over a DataFrame, a NumPy array and text that holds a <script>; the
end step's card lists the inherited artifacts it did not load, with their sizes."""

import numpy
import pandas

from grange import FlowSpec, Parameter, card, step


class CardDefaultFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5, type=float)

    @card
    @step
    def start(self):
        self.frame = pandas.DataFrame({"city": ["Oslo", "Lima"], "temp": [3.5, 19.25]})
        self.array = numpy.arange(12, dtype=numpy.float64).reshape(3, 4)
        self.note = "<script>alert('x')</script>"
        self.big = numpy.zeros(200_000)
        self.next(self.end)

    @card
    @step
    def end(self):
        self.total = float(self.array.sum())


if __name__ == "__main__":
    CardDefaultFlow()
