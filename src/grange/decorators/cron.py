"""Cron expressions of ``@schedule`` and ``options={'reset_at': ...}``: read, converted
to the 5 standard fields, and checked.

Two forms are accepted:

- the 5 standard fields (minute hour day-of-month month day-of-week), as croniter
  and Argo read them: day-of-week ``0``-``6`` is Sunday-Saturday (``7`` is Sunday
  too);
- Metaflow's 6-field form, AWS EventBridge's (minute hour day-of-month month
  day-of-week year), whose day-of-week numbers ``1``-``7`` are Sunday-Saturday.
  Its year is dropped (it must be ``*`` or ``?``), ``?`` reads as ``*`` and its
  day-of-week numbers are shifted down by one (``2-6``, Monday-Friday, becomes
  ``1-5``), so a Metaflow user's schedule keeps its meaning. Names (``MON-FRI``)
  mean the same in both forms and are kept.

:func:`normalize_cron` imports nothing; :func:`cron_problem` imports croniter and
zoneinfo (lint, deployments and the scheduler call it, never a flow module's import).
"""

from __future__ import annotations

import re

from grange.exceptions import DecoratorError

#: A schedule that fires less often than this is taken for one that never fires
#: (``0 0 30 2 *``: February 30th), refused by lint rather than by croniter at deploy.
NEVER_FIRES_YEARS = 5

_FIVE_FIELDS_FIX = (
    "e.g. cron='0 6 * * 1-5' (06:00 on weekdays); Metaflow's 6-field form with a trailing "
    "year ('0 6 ? * MON-FRI *', or '0 6 ? * 2-6 *' with EventBridge's day numbers, 1 = "
    "Sunday) is accepted too"
)


def normalize_cron(expression: object, where: str) -> str:
    """``expression`` as a 5-field cron: a 5-field one as it is (``?`` read as
    ``*``); Metaflow's 6-field (EventBridge) form without its year and with its
    day-of-week numbers converted to the standard ones (1-7 → 0-6). Raises
    :class:`DecoratorError` naming ``where`` when neither."""
    if not isinstance(expression, str) or not expression.strip():
        raise DecoratorError(
            f"{where}: cron={expression!r} is not a cron expression",
            fix="give 5 fields, minute hour day-of-month month day-of-week, "
            "e.g. cron='30 2 * * *' (02:30 every day)",
        )
    fields = expression.split()
    if len(fields) == 6:
        if fields[5] not in ("*", "?"):
            raise DecoratorError(
                f"{where}: cron={expression!r} has a year field ({fields[5]!r}); a schedule "
                "repeats every year",
                fix="leave the year out (5 fields: minute hour day-of-month month "
                "day-of-week), or write '*' for it",
            )
        fields = [*fields[:4], _eventbridge_days(fields[4], expression, where)]
    if len(fields) != 5:
        raise DecoratorError(
            f"{where}: cron={expression!r} has {len(fields)} fields; a cron expression has 5 "
            "(minute hour day-of-month month day-of-week)",
            fix=_FIVE_FIELDS_FIX,
        )
    return " ".join("*" if f == "?" else f for f in fields)


def _eventbridge_days(field: str, expression: str, where: str) -> str:
    """EventBridge's day-of-week field (1-7 = SUN-SAT) in standard numbers (0-6):
    every number of a list, range or step start shifted down by one; names,
    ``*`` and ``?`` as they are; a step (``/2``) is a count, not a day, and kept."""

    def shift(match: re.Match[str]) -> str:
        day = int(match.group(0))
        if not 1 <= day <= 7:
            raise DecoratorError(
                f"{where}: cron={expression!r} is Metaflow's 6-field (EventBridge) form, "
                f"whose day-of-week numbers are 1-7 (1 = Sunday); {day} is none of them",
                fix="write 1 (Sunday) to 7 (Saturday), or the names SUN-SAT, or give the 5 "
                "standard fields (0 = Sunday) without a year",
            )
        return str(day - 1)

    out = []
    for item in field.split(","):
        days, slash, step = item.partition("/")
        out.append(re.sub(r"\d+", shift, days) + slash + step)
    return ",".join(out)


def cron_problem(cron: str, timezone: str | None) -> str | None:
    """Why ``cron``/``timezone`` cannot schedule anything, or None: croniter or
    zoneinfo cannot read them, the expression uses Quartz's ``L``, ``W`` or ``#``,
    or it never fires (no tick within :data:`NEVER_FIRES_YEARS` years)."""
    import importlib

    # Quartz's L, W and # read differently (or not at all) in Argo's cron parser:
    # a schedule means the same on one machine and on a cluster, or is refused.
    for item in re.split(r"[\s,]+", cron.upper()):
        if "#" in item or re.fullmatch(r"[0-9]*L|[0-9]*W|LW", item):
            return (
                f"cron expression {cron!r} uses {item!r} (Quartz's L, W or #), which Argo's "
                "cron parser does not read the same way; write the days out"
            )
    # Through importlib: croniter ships no type hints (its stubs are not installed).
    module = importlib.import_module("croniter")
    if not module.croniter.is_valid(cron):
        return f"cron expression {cron!r} is not valid (croniter cannot read it)"
    if timezone is not None:
        problem = timezone_problem(timezone)
        if problem:
            return problem
    return _never_fires(module, cron)


def _never_fires(module: object, cron: str) -> str | None:
    from datetime import datetime
    from datetime import timezone as tz

    croniter = module.croniter  # type: ignore[attr-defined]
    bad_date = module.CroniterBadDateError  # type: ignore[attr-defined]
    try:
        it = croniter(cron, datetime.now(tz.utc), max_years_between_matches=NEVER_FIRES_YEARS)
        it.get_next(datetime)
    except (bad_date, ValueError, OverflowError):
        return (
            f"cron expression {cron!r} never fires (no such date within "
            f"{NEVER_FIRES_YEARS} years, e.g. February 30th or April 31st)"
        )
    return None


def timezone_problem(timezone: object) -> str | None:
    """Why ``timezone`` is not an IANA time zone name, or None."""
    import zoneinfo

    if not isinstance(timezone, str) or not timezone:
        return f"timezone={timezone!r} is not an IANA time zone name"
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"timezone {timezone!r} is not an IANA time zone name"
    return None
