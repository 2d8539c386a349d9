"""@timeout(seconds=1) on a step that would run for long, in one of three ways
(Parameter ``how``): sleeping in Python, sleeping inside libc through ctypes,
or stuck in one long NumPy call that never looks at signals."""

import ctypes
import time

from grange import FlowSpec, Parameter, step, timeout


def stuck_in_numpy():
    """Long NumPy calls that never look at signals. How long one call takes depends on
    the NumPy build, so the alarm signal is also ignored (as by code that never
    returns to Python in time): only killing the process stops it."""
    import signal

    import numpy

    signal.signal(signal.SIGALRM, signal.SIG_IGN)  # the alarm never reaches Python
    while True:
        numpy.convolve(numpy.ones(10**6), numpy.ones(2 * 10**4))


def slow(how):
    if how == "sleep":
        time.sleep(60)
    elif how == "libc":
        ctypes.CDLL(None).sleep(60)
    elif how == "numpy":
        stuck_in_numpy()
    else:
        raise ValueError(how)


class TimeoutFlow(FlowSpec):
    how = Parameter("how", default="sleep")

    @step
    def start(self):
        self.next(self.slow)

    @timeout(seconds=1)
    @step
    def slow(self):
        print(f"working ({self.how})", flush=True)
        slow(self.how)
        self.finished_work = True
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TimeoutFlow()
