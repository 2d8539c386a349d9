"""The course's "Timeout Using @timeout" example. The slide's matrix cannot be built
(see BigSum.py); summing a matrix small enough for a laptop takes milliseconds, so
the step sums a matrix product instead: one NumPy call of a dozen seconds on two
cores (6000 x 6000, under 1 GB). @timeout stops it at 5 seconds."""

from grange import FlowSpec, step, timeout


class BigSumTimeout(FlowSpec):
    @timeout(seconds=5)
    @step
    def start(self):
        import numpy
        import time
        big_matrix = numpy.random.randn(6000, 6000)
        t = time.time()
        self.sum = numpy.sum(big_matrix @ big_matrix)
        self.took = time.time() - t
        self.next(self.end)

    @step
    def end(self):
        print("sum is", self.sum, "took", self.took)


if __name__ == "__main__":
    BigSumTimeout()
