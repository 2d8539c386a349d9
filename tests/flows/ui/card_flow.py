"""Two cards on a step: the default one and a live one refreshed while the test watches."""

import os
import time

from grange import FlowSpec, card, current, step
from grange.cards import Markdown


class UiCardFlow(FlowSpec):
    @card(type="blank", id="live", refresh_interval=0)
    @card
    @step
    def start(self):
        self.note = "<script>alert('artifact')</script>"
        current.card["live"].append(Markdown("<script>alert('card')</script> step one"))
        current.card["live"].refresh()
        while not os.path.exists(os.environ["UI_RELEASE"]):
            time.sleep(0.05)
        current.card["live"].append(Markdown("step two"))
        current.card["live"].refresh()
        while not os.path.exists(os.environ["UI_FINISH"]):
            time.sleep(0.05)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UiCardFlow()
