"""The course's "Scaling Vertically Using @resources" example; the slide's
``numpy.random.randn((80000, 80000))`` is not valid NumPy (randn takes the
dimensions as separate arguments) and would need 48 GB: a 2000 x 2000 matrix here.

    python BigSum.py run
    python BigSum.py run --with retry
"""

from grange import FlowSpec, resources, step


class BigSum(FlowSpec):
    @resources(memory=60000, cpu=1)
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
    BigSum()
