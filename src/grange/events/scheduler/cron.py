"""Cron ticks in a timezone, with croniter (never a hand-written parser).

Times are POSIX seconds; a 5-field cron expression is read in its timezone
(an IANA name, :mod:`zoneinfo`; UTC when none), so ``0 9 * * *`` in
``Europe/Paris`` fires at 09:00 Paris time on both sides of a DST change.
Ticks fall on whole seconds, which is what makes "at or before ``t``" exact.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone, tzinfo

from grange.exceptions import CommandError


def zone(name: str | None) -> tzinfo:
    """The timezone ``name`` (UTC for None), or an error naming it."""
    if not name:
        return timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CommandError(
            f"unknown timezone {name!r}",
            fix="use an IANA name such as 'Europe/Paris' or 'America/New_York'",
        ) from None


def check_cron(expression: str, timezone_name: str | None = None) -> None:
    """Refuse a cron expression (or timezone) that croniter cannot read."""
    from croniter import croniter  # type: ignore[import-untyped]

    zone(timezone_name)
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise CommandError(
            f"{expression!r} is not a 5-field cron expression (minute hour day month weekday)",
            fix="write e.g. '0 * * * *' (hourly) or '*/15 9-17 * * 1-5'",
        )


def _iter(expression: str, tz: str | None, at: float):  # type: ignore[no-untyped-def]
    from croniter import croniter

    return croniter(expression, datetime.fromtimestamp(at, zone(tz)))


def next_tick(expression: str, tz: str | None, after: float) -> float:
    """The first tick strictly after ``after``."""
    return float(_iter(expression, tz, math.floor(after)).get_next(datetime).timestamp())


def last_tick(expression: str, tz: str | None, at: float) -> float | None:
    """The latest tick at or before ``at`` (None if the expression never fired before)."""
    try:
        found = _iter(expression, tz, math.floor(at) + 1).get_prev(datetime)
    except Exception:  # croniter's "no previous date" (a far-past bound)
        return None
    return float(found.timestamp())


def ticks_between(
    expression: str, tz: str | None, after: float, until: float, *, limit: int
) -> tuple[list[float], int]:
    """The latest ``limit`` ticks ``t`` with ``after < t <= until`` (oldest first),
    and how many such ticks there are, counted up to ``limit + 1``."""
    found: list[float] = []
    it = _iter(expression, tz, math.floor(until) + 1)
    while len(found) <= limit:
        try:
            tick = float(it.get_prev(datetime).timestamp())
        except Exception:
            break
        if tick <= after:
            break
        found.append(tick)
    count = len(found)
    return sorted(found[:limit]), count
