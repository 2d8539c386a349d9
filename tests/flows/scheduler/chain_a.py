"""Link A of the chain ChainA -> ChainB -> ChainC: records what started it."""

from grange import FlowSpec, current, step, trigger


@trigger(event="go")
class ChainA(FlowSpec):
    @step
    def start(self):
        self.started_by = current.trigger.event.id
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ChainA()
