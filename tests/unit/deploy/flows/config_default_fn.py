from grange import Config, FlowSpec, Parameter, step


def double(ctx):
    return ctx.configs.cfg.a * 2


class ConfigDefaultFnFlow(FlowSpec):
    cfg = Config("cfg", default_value={"a": 2})
    b = Parameter("b", default=double, type=int)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
