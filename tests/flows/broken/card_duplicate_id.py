"""Two @card decorators with one id on a step: current.card['a'] could not choose."""

from grange import FlowSpec, card, step


class CardDuplicateIdFlow(FlowSpec):
    @card(id="a")
    @card(type="blank", id="a")
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CardDuplicateIdFlow()
