"""The course's "Timeout Using @timeout" example. The slide's matrix cannot be built
(see BigSum.py); summing a matrix small enough for a laptop takes milliseconds, so
the step sums matrix products instead: a few seconds each on two cores (6000 x
6000, under 1 GB), twenty of them, so that the step outlasts its timeout on any
machine. @timeout stops it at 5 seconds."""

from grange import FlowSpec, step, timeout


class BigSumTimeout(FlowSpec):
    @timeout(seconds=5)
    @step
    def start(self):
        import numpy
        import time
        big_matrix = numpy.random.randn(6000, 6000)
        t = time.time()
        total = 0.0
        for _ in range(20):
            total += numpy.sum(big_matrix @ big_matrix)
        self.sum = total
        self.took = time.time() - t
        self.next(self.end)

    @step
    def end(self):
        print("sum is", self.sum, "took", self.took)


if __name__ == "__main__":
    BigSumTimeout()
