"""The course's "Retry Steps Using @retry" example (a 2000 x 2000 matrix: see BigSum.py)."""

from grange import FlowSpec, retry, step


class BigSumRetry(FlowSpec):
    @retry
    @step
    def start(self):
        import numpy
        import time
        big_matrix = numpy.random.randn(2000, 2000)
        t = time.time()
        self.sum = numpy.sum(big_matrix)
        self.took = time.time() - t
        self.next(self.end)

    @step
    def end(self):
        print("sum is", self.sum, "took", self.took)


if __name__ == "__main__":
    BigSumRetry()
