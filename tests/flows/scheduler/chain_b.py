"""Link B of the chain ChainA -> ChainB -> ChainC: records what started it."""

from grange import FlowSpec, current, step, trigger_on_finish


@trigger_on_finish(flow="ChainA")
class ChainB(FlowSpec):
    @step
    def start(self):
        self.started_by = current.trigger.event.id
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ChainB()
