"""A step that refreshes its card, then waits for the test (READY_FILE / GO_FILE)."""

import os
import time

from grange import FlowSpec, card, current, step
from grange.cards.components import Markdown


class CardLiveFlow(FlowSpec):
    @card(type="blank", refresh_interval=0)
    @step
    def start(self):
        current.card.append(Markdown("progress: first half"))
        current.card.refresh({"done": 1})
        with open(os.environ["READY_FILE"], "w") as fh:
            fh.write("ready")
        while not os.path.exists(os.environ["GO_FILE"]):
            time.sleep(0.05)
        current.card.append(Markdown("progress: all done"))
        self.next(self.end)

    @card(type="blank", refresh_interval=60)
    @step
    def end(self):
        current.card.append(Markdown("first"))
        current.card.refresh({"n": 1})  # written now
        current.card.append(Markdown("second"))
        current.card.refresh({"n": 2})  # within the interval: kept for later, not lost


if __name__ == "__main__":
    CardLiveFlow()
