"""Runs when 'new_data' arrives; its payload's fields set the parameters of their names."""

from grange import FlowSpec, Parameter, step, trigger


@trigger(event="new_data")
class TrainingFlow(FlowSpec):
    date = Parameter("date", type=str, required=True)
    rows = Parameter("rows", default=100)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TrainingFlow()
