"""Started by the event ``new_data``: its payload's ``date`` sets the parameter ``date``."""

from grange import FlowSpec, Parameter, current, step, trigger


@trigger(event={"name": "new_data", "parameters": {"date": "date", "rows": "row_count"}})
class TriggerEventFlow(FlowSpec):
    date = Parameter("date", default="none")
    rows = Parameter("rows", default=0)

    @step
    def start(self):
        event = current.trigger.event if current.trigger else None
        self.event = (
            None
            if event is None
            else {
                "name": event.name,
                "id": event.id,
                "type": event.type,
                "payload": dict(event.payload),
                "timestamp": event.timestamp,
            }
        )
        self.values = (self.date, self.rows)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TriggerEventFlow()
