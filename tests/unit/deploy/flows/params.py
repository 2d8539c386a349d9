"""Parameters of every type, with and without defaults."""

from grange import FlowSpec, JSONType, Parameter, step


def computed(ctx):
    return f"{ctx.flow_name}-default"


class ParamsFlow(FlowSpec):
    text = Parameter("text", default="hello")
    count = Parameter("count", default=3)
    ratio = Parameter("ratio", default=0.5)
    flag = Parameter("flag", default=False, type=bool)
    config = Parameter("config", default={"layers": [1, 2], "name": "x"}, type=JSONType)
    nothing = Parameter("nothing", type=str)
    needed = Parameter("needed", type=int, required=True)
    derived = Parameter("derived", default=computed)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParamsFlow()
