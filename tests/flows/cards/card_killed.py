"""A task whose card render hangs (timeout=600) after a refresh: the test kills the task
(PID_FILE) while the card renders."""

import os
import time

from grange import FlowSpec, card, current, step
from grange.cards.components import Markdown


class Stuck:
    def __repr__(self):
        while True:
            time.sleep(1)


class CardKilledFlow(FlowSpec):
    @card(timeout=600, refresh_interval=0)
    @step
    def start(self):
        self.stuck = Stuck()
        self.value = 42
        current.card.append(Markdown("live before the kill"))
        current.card.refresh()
        with open(os.environ["PID_FILE"], "w") as fh:
            fh.write(str(os.getpid()))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CardKilledFlow()
