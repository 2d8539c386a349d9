"""Parameters of every type, one whose attribute differs from its name."""

from grange import FlowSpec, JSONType, Parameter, step


class ParamsRunFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5, help="a float")
    count = Parameter("count", default=2, type=int)
    names = Parameter("names", default="a,b", separator=",")
    flag = Parameter("flag", default=False, type=bool)
    config = Parameter("config", default='{"k": 1}', type=JSONType)
    lr = Parameter("learning-rate", default=0.01)

    @step
    def start(self):
        self.seen = {
            "alpha": self.alpha,
            "count": self.count,
            "names": self.names,
            "flag": self.flag,
            "config": self.config,
            "lr": self.lr,
        }
        self.next(self.end)

    @step
    def end(self):
        self.alpha_in_end = self.alpha


if __name__ == "__main__":
    ParamsRunFlow()
