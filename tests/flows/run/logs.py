"""Tasks that print on both streams, one without a final newline."""

import sys

from grange import FlowSpec, step


class LogsRunFlow(FlowSpec):
    @step
    def start(self):
        print("hello from start")
        print("a warning from start", file=sys.stderr)
        print("no newline at the end", end="")
        self.items = list(range(3))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        for line in range(3):
            print(f"item {self.input} line {line}")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        print("bye", flush=True)
        sys.stdout.buffer.write(b"caf\xe9 \xff not utf-8\n")  # stored and printed as is


if __name__ == "__main__":
    LogsRunFlow()
