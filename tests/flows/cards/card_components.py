"""Several cards on one step: a blank one by id, a default one with customize=True
(current.card.append goes there), and a second blank one reached by its id."""

from grange import FlowSpec, card, current, step
from grange.cards.components import Markdown


class CardComponentsFlow(FlowSpec):
    @card(type="blank")
    @step
    def start(self):
        current.card.append(Markdown("# Only card of start"))
        self.next(self.end)

    @card(type="blank", id="notes")
    @card(type="default", id="main", customize=True)
    @card(type="blank", id="extra")
    @step
    def end(self):
        current.card.append(Markdown("appended without an id"))
        current.card["notes"].append(Markdown("a note for the notes card"))
        current.card["extra"].extend([Markdown("extra one"), Markdown("extra two")])
        current.card["nowhere"].append(Markdown("lost"))
        current.card.get(type="blank")[0].append(Markdown("by type"))


if __name__ == "__main__":
    CardComponentsFlow()
