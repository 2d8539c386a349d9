"""Cards a step puts at risk. start ignores SIGCHLD (the renderers are reaped by the
kernel); middle's @timeout is shorter than its card's timeout and a component's render() hangs;
end's default card loads an inherited artifact whose __setstate__ records its pid
(SETSTATE_FILE). With --how exit, end calls os._exit after a refresh; with --how
raise, end fails with a save_errors=False card holding a pending refresh."""

import os
import signal
import time

from grange import FlowSpec, Parameter, card, current, step, timeout
from grange.cards.components import CardComponent, Markdown


class Slow:
    def __init__(self):
        self.value = 1

    def __setstate__(self, state):
        with open(os.environ["SETSTATE_FILE"], "a") as fh:
            fh.write(f"{os.getpid()}\n")
        self.__dict__.update(state)


class Stuck(CardComponent):
    def render(self):
        while True:
            time.sleep(1)


class CardLostFlow(FlowSpec):
    how = Parameter("how", default="ok")

    @card
    @card(type="blank", id="b")
    @step
    def start(self):
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        current.card["b"].append(Markdown("SIGCHLD ignored"))
        self.slow = Slow()
        self.next(self.middle)

    @timeout(seconds=2)
    @card(timeout=60)
    @step
    def middle(self):
        if self.how == "ok":
            current.card.append(Stuck())
        self.next(self.end)

    @card(refresh_interval=0)
    @card(type="blank", id="quiet", save_errors=False, refresh_interval=60)
    @step
    def end(self):
        self.end_pid = os.getpid()
        current.card.append(Markdown("live before the end"))
        current.card.refresh()
        if self.how == "exit":
            os._exit(3)
        quiet = current.card["quiet"]
        quiet.append(Markdown("quiet"))
        quiet.refresh()
        quiet.refresh()  # within refresh_interval: pending
        if self.how == "raise":
            raise RuntimeError("end failed")


if __name__ == "__main__":
    CardLostFlow()
