"""A blank @card refreshed while its task runs: with $UI_GATE set, 'start' shows
"stage one", waits for the file ``go``, then shows "stage two" and waits for ``done``."""

import os
import time
from pathlib import Path

from grange import FlowSpec, card, current, step
from grange.cards import Markdown, ProgressBar


def wait_for(gate: str, name: str) -> None:
    Path(gate, f"waiting-{name}").write_text("")
    deadline = time.monotonic() + 600  # a guard if the test died, not a timing
    while not Path(gate, name).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


class UiLiveCardFlow(FlowSpec):
    @card(type="blank", refresh_interval=0)
    @step
    def start(self):
        gate = os.environ.get("UI_GATE")
        stage = Markdown("stage one")
        bar = ProgressBar(max=2, label="stages", value=1)
        current.card.append(Markdown("# Live progress"))
        current.card.append(stage)
        current.card.append(bar)
        current.card.refresh()
        if gate:
            wait_for(gate, "go")
        stage.update("stage two")
        bar.update(2)
        current.card.refresh()
        if gate:
            wait_for(gate, "done")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UiLiveCardFlow()
