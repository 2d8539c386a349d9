from grange import FlowSpec, step


class SwitchLoopFlow(FlowSpec):
    @step
    def start(self):
        self.count = 0
        self.next(self.loop)

    @step
    def loop(self):
        self.count += 1
        self.more = "again" if self.count < 3 else "done"
        self.next({"again": self.loop, "done": self.end}, condition="more")

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchLoopFlow()
