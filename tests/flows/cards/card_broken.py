"""Cards whose render goes wrong: an artifact whose repr never returns (a card timeout),
a component that kills its renderer (SIGSEGV), one whose render() raises. Every step
succeeds."""

import os
import signal
import time

from grange import FlowSpec, card, current, step
from grange.cards.components import CardComponent, Markdown


class Stuck:
    def __repr__(self):
        while True:
            time.sleep(1)


class Crash(CardComponent):
    def render(self):
        os.kill(os.getpid(), signal.SIGSEGV)
        return {}


class Raises(CardComponent):
    def render(self):
        raise RuntimeError("this component is broken")


class CardBrokenFlow(FlowSpec):
    @card(timeout=2)
    @card(type="blank", id="quiet", timeout=2, save_errors=False)
    @step
    def start(self):
        self.stuck = Stuck()
        current.card["quiet"].append(Markdown("never shown"))
        current.card["quiet"].refresh()  # live data, removed when its render fails
        current.card["quiet"].append(Crash())
        self.next(self.middle)

    @card(type="blank")
    @step
    def middle(self):
        current.card.append(Crash())
        self.next(self.end)

    @card(type="blank")
    @step
    def end(self):
        current.card.append(Markdown("before the broken one"))
        current.card.append(Raises())


if __name__ == "__main__":
    CardBrokenFlow()
