"""A step that leaves a non-daemon thread running (waiting forever)."""

import threading

from grange import FlowSpec, step

forever = threading.Event()


class ThreadsRunFlow(FlowSpec):
    @step
    def start(self):
        threading.Thread(target=forever.wait, name="left-behind").start()
        print("started a thread", flush=True)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ThreadsRunFlow()
