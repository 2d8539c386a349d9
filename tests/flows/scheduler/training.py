"""The seed's training flow: started by the event new_data, whose payload's ``date``
sets the parameter of that name."""

from grange import FlowSpec, Parameter, current, step, trigger


@trigger(event="new_data")
class TrainingFlow(FlowSpec):
    date = Parameter("date", default="no-date")

    @step
    def start(self):
        self.model = f"model-for-{self.date}"
        trigger = current.trigger
        self.event = None if trigger is None else (trigger.event.name, trigger.event.id)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TrainingFlow()
