"""The scheduler's clock: real time, or one a test controls.

The loop asks its clock for "now" and waits on it; it never calls
:func:`time.time` or :func:`time.sleep` itself. :class:`SystemClock` is real
time. :class:`ManualClock` is moved by a test (``advance``, ``set``).
:class:`FileClock` is read from a file, for tests that start ``grange
scheduler`` as a process: ``GRANGE_SCHEDULER_NOW`` (hidden) is either a POSIX
time or ISO 8601 (a fixed clock), or ``@PATH`` of a file holding one, read
again on every tick, so that a test moves the time of a running scheduler by
writing the file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from grange.exceptions import CommandError

NOW_ENV = "GRANGE_SCHEDULER_NOW"


class Clock(Protocol):
    def now(self) -> float:
        """POSIX seconds."""
        ...

    def wait(self, seconds: float, wake: threading.Event) -> None:
        """Wait up to ``seconds`` of real time, or until ``wake`` is set."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def wait(self, seconds: float, wake: threading.Event) -> None:
        wake.wait(seconds)


class ManualClock:
    """A clock a test moves; waiting does not pass time (and returns at once)."""

    def __init__(self, start: float) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def set(self, at: float) -> None:
        self._now = float(at)

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def wait(self, seconds: float, wake: threading.Event) -> None:
        wake.wait(min(seconds, 0.05))


class FileClock:
    """ "Now" read from a file (or a fixed value); the real time passes while waiting."""

    def __init__(self, fixed: float | None = None, path: Path | None = None) -> None:
        self.fixed = fixed
        self.path = path

    def now(self) -> float:
        if self.path is None:
            assert self.fixed is not None
            return self.fixed
        try:
            return parse_time(self.path.read_text().strip(), where=str(self.path))
        except OSError as err:
            raise CommandError(
                f"cannot read the scheduler's clock file {self.path}: {err.strerror or err}",
                fix=f"write a time into it, or unset {NOW_ENV}",
            ) from None

    def wait(self, seconds: float, wake: threading.Event) -> None:
        wake.wait(seconds)


def parse_time(text: str, *, where: str = NOW_ENV) -> float:
    """POSIX seconds or ISO 8601 (UTC when it names no offset)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"{where}: {text!r} is neither POSIX seconds nor an ISO 8601 time",
            fix="write e.g. 1767225600 or 2026-01-01T00:00:00+00:00",
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.timestamp()


def clock_from_env(env: Mapping[str, str]) -> Clock:
    """The clock ``GRANGE_SCHEDULER_NOW`` asks for, else real time."""
    text = env.get(NOW_ENV, "").strip()
    if not text:
        return SystemClock()
    if text.startswith("@"):
        return FileClock(path=Path(text[1:]))
    return FileClock(fixed=parse_time(text))
