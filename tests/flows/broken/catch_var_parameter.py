"""Broken: @catch(var=...) names a parameter, whose value the exception would replace."""

from grange import FlowSpec, Parameter, catch, step


class CatchVarParameterFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5, type=float)

    @catch(var="alpha")
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CatchVarParameterFlow()
