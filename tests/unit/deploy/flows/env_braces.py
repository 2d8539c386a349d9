"""@environment values holding "{{": left to the step command (Argo would read them)."""

from grange import FlowSpec, environment, step


class EnvBraceFlow(FlowSpec):
    @environment(vars={"GREETING": "Dear {{ user }}", "PLAIN": "x"})
    @step
    def start(self):
        import os

        self.greeting = os.environ["GREETING"]
        self.next(self.end)

    @step
    def end(self):
        assert self.greeting == "Dear {{ user }}"


if __name__ == "__main__":
    EnvBraceFlow()
