"""SIGTERM and SIGHUP end a run the way Ctrl-C does.

While a run is in progress, the runtime turns SIGTERM (``kill``, a scheduler
stopping a job) and SIGHUP (the terminal closed) into :class:`Stopped`, a
``KeyboardInterrupt``: the run loop stops the running tasks, the run is
recorded as failed, the summary is printed and ``resume`` finishes it. Only
the first such signal counts; those that follow while the run winds down are
ignored (a second Ctrl-C still interrupts at once).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """The runtime received ``signum``: stop the run as Ctrl-C would."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(signum: int) -> int:
    """What a shell reports for a process ended by ``signum`` (130 for Ctrl-C)."""
    return 128 + signum


def signal_of(interrupt: KeyboardInterrupt) -> int:
    """The signal behind an interrupt: SIGINT for Ctrl-C."""
    return interrupt.signum if isinstance(interrupt, Stopped) else int(signal.SIGINT)


class StopSignals:
    """While entered, the first SIGTERM or SIGHUP raises :class:`Stopped`.

    A signal the process ignores (SIGHUP under ``nohup``) stays ignored.
    :meth:`settle` makes later signals no-ops: the run is ending anyway, and
    its status and summary must still be written.
    """

    def __init__(self) -> None:
        self._received: list[int] = []
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                if signal.getsignal(sig) is not signal.SIG_IGN:  # nohup: stays ignored
                    self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *_exc: object) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)
        self._previous.clear()

    def settle(self) -> None:
        self._received.append(0)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self._received:
            return
        self._received.append(signum)
        raise Stopped(signum)
