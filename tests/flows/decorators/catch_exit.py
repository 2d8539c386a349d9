"""@catch sees a step that calls sys.exit() or raises KeyboardInterrupt."""

import sys

from grange import FlowSpec, catch, step


class CatchExitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.quits)

    @catch(var="quit")
    @step
    def quits(self):
        self.before = "set before the exit"
        sys.exit(4)
        self.next(self.interrupted)

    @catch(var="stopped")
    @step
    def interrupted(self):
        raise KeyboardInterrupt("stop here")
        self.next(self.end)

    @step
    def end(self):
        self.seen = [
            (self.quit.type, self.quit.exception, str(self.quit)),
            (self.stopped.type, self.stopped.exception, str(self.stopped)),
        ]
        self.quit_trace = self.quit.stacktrace


if __name__ == "__main__":
    CatchExitFlow()
