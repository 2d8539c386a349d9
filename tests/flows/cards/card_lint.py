"""@card misuses lint reports: two cards with customize=True; a card type that does not
exist."""

from grange import FlowSpec, card, step


class CardCustomizeFlow(FlowSpec):
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
