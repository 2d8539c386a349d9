"""A switch: only the case that 'coin' names runs."""

from grange import FlowSpec, Parameter, step


class SwitchRunFlow(FlowSpec):
    coin = Parameter("coin", default="heads")

    @step
    def start(self):
        self.side = self.coin
        self.next({"heads": self.heads, "tails": self.tails}, condition="side")

    @step
    def heads(self):
        self.ran = "heads"
        self.next(self.after)

    @step
    def tails(self):
        self.ran = "tails"
        self.next(self.after)

    @step
    def after(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchRunFlow()
