"""Config values in decorators and a parameter default, baked into the template."""

from grange import (
    Config,
    FlowSpec,
    Parameter,
    config_expr,
    environment,
    project,
    resources,
    retry,
    step,
)


@project(name=config_expr("settings").project)
class ConfigsFlow(FlowSpec):
    settings = Config("settings", default="configs.json")
    extra = Config("extra", default_value={"retry": {"times": 2, "minutes_between_retries": 0}})
    alpha = Parameter("alpha", default=settings.alpha)

    @resources(cpu=settings.cpu, memory=settings.memory)
    @retry(**extra.retry)
    @environment(vars={"MODE": settings.mode, "CPU": config_expr("str(settings.cpu)")})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ConfigsFlow()
