"""start has a card; end fails while $UICOV_FAIL is set, so a resume clones start."""

import os

from grange import FlowSpec, card, step


class UiCardResumeFlow(FlowSpec):
    @card
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        if os.environ.get("UICOV_FAIL"):
            raise RuntimeError("failing so that the run is resumed")


if __name__ == "__main__":
    UiCardResumeFlow()
