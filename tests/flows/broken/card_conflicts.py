"""Two @card with one id on start; two with customize=True on end; a bad type on mid."""

from grange import FlowSpec, card, step


class CardConflictFlow(FlowSpec):
    @card(id="a")
    @card(type="blank", id="a")
    @step
    def start(self):
        self.next(self.end)

    @card(customize=True)
    @card(type="blank", id="b")
    @card(type="blank", id="c", customize=True)
    @step
    def end(self):
        pass


class CardTypeFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @card(type="fancy")
    @step
    def end(self):
        pass
