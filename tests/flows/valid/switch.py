from grange import FlowSpec, step


class SwitchFlow(FlowSpec):
    @step
    def start(self):
        self.coin = "heads"
        self.next({"heads": self.heads, "tails": self.tails}, condition="coin")

    @step
    def heads(self):
        self.next(self.after)

    @step
    def tails(self):
        self.next(self.after)

    @step
    def after(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchFlow()
