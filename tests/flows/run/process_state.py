"""Each task is its own process: fresh random state, working threads, no state leaks."""

import concurrent.futures
import logging
import multiprocessing
import os
import random
import threading

import numpy

from grange import FlowSpec, step

SEEN: list[int] = []  # a task that sees another task's item here was not isolated
START_THREADS = threading.active_count()


def _square(x):
    return x * x


class ProcessStateFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(4))
        with multiprocessing.Pool(2) as pool:  # forks grandchildren of the fork server
            self.pool_squares = pool.map(_square, self.items)
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.item = self.input
        SEEN.append(self.input)
        self.seen = list(SEEN)
        self.pid = os.getpid()
        self.draws = (random.random(), float(numpy.random.rand()))
        self.threads_at_start = threading.active_count()
        box = []
        worker = threading.Thread(target=lambda: box.append(threading.get_ident()))
        worker.start()
        worker.join(timeout=10)
        self.thread_ran = bool(box) and box[0] != threading.get_ident()
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            self.squares = list(pool.map(lambda x: x * x, range(5)))
        logging.getLogger("process_state").warning("logged from item %s", self.input)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.tasks = sorted(
            (i.item, i.seen, i.pid, i.draws, i.threads_at_start, i.thread_ran, i.squares)
            for i in inputs
        )
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ProcessStateFlow()
