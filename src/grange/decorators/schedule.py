"""``@schedule``: when a deployed flow runs (``grange scheduler`` and Argo CronWorkflows).

As Metaflow's: ``@schedule`` alone (or ``daily=True``) is ``0 0 * * *`` (midnight),
``hourly=True`` ``0 * * * *``, ``weekly=True`` ``0 0 * * 0`` (Sunday midnight),
``cron='...'`` any cron expression; ``timezone=`` an IANA name (UTC without one).
Giving two of them is an error. ``cron`` takes the standard 5 fields, or
Metaflow's 6-field form with a trailing year field (``'0 6 ? * 2-6 *'``), whose
year is dropped as Metaflow drops it for Argo; ``?`` reads as ``*``.

Nothing here imports croniter or zoneinfo (nor, until a flow uses the
decorator, the model in :mod:`grange.decorators.triggers`): flow modules import
this package in every task. Lint checks the expression and the time zone with them
(:meth:`ScheduleDecorator.flow_check`), and so does :func:`schedule_of`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grange.decorators.flow import FlowDecorator, FlowShape, make_flow_decorator
from grange.exceptions import DecoratorError

if TYPE_CHECKING:
    from grange.decorators.triggers import Schedule

HOURLY = "0 * * * *"
DAILY = "0 0 * * *"
WEEKLY = "0 0 * * 0"


class ScheduleDecorator(FlowDecorator):
    """Run the deployed flow on a schedule: ``@schedule(daily=True)`` (the default),
    ``hourly=True``, ``weekly=True`` or ``cron='30 2 * * *'``, with an optional
    IANA ``timezone='Europe/Paris'`` (UTC without one). Used by ``deploy`` (the
    local scheduler) and ``argo-workflows create``; ``run`` ignores it.
    """

    name = "schedule"
    # daily=None: not given (daily unless another is); so a decorator rebuilt from its
    # attributes (lint does) still tells a written daily=True from the default.
    defaults = {"hourly": False, "daily": None, "weekly": False, "cron": None, "timezone": None}

    def validate(self) -> None:
        # The model is imported when a flow uses @schedule, not by ``import grange``.
        from grange.decorators.triggers import Schedule, normalize_cron

        a = self.attributes
        for key in ("hourly", "daily", "weekly"):
            if not isinstance(a[key], bool) and not (key == "daily" and a[key] is None):
                raise DecoratorError(
                    f"@schedule({key}={a[key]!r}) must be True or False",
                    fix=f"write @schedule({key}=True)",
                )
        chosen = [k for k in ("hourly", "daily", "weekly") if a[k]]
        if a["cron"] is not None:
            chosen.append("cron")
        if len(chosen) > 1:
            raise DecoratorError(
                f"@schedule gives {' and '.join(chosen)}; a flow has one schedule",
                fix="keep one of hourly=True, daily=True, weekly=True or cron='...'",
            )
        if a["cron"] is not None:
            cron = normalize_cron(a["cron"], "@schedule")
        elif a["hourly"]:
            cron = HOURLY
        elif a["weekly"]:
            cron = WEEKLY
        elif a["daily"] or a["daily"] is None:
            cron = DAILY
        else:
            raise DecoratorError(
                "@schedule(daily=False) gives no schedule",
                fix="give hourly=True, weekly=True or cron='...', or remove @schedule",
            )
        timezone = a["timezone"]
        if timezone is not None and (not isinstance(timezone, str) or not timezone):
            raise DecoratorError(
                f"@schedule(timezone={timezone!r}) is not an IANA time zone name",
                fix="e.g. timezone='Europe/Paris'; leave it out for UTC",
            )
        self.schedule: Schedule = Schedule(cron, timezone)

    def flow_check(self, *, flow: FlowShape) -> str | None:
        from grange.decorators.triggers import cron_problem

        problem = cron_problem(self.schedule.cron, self.schedule.timezone)
        if problem:
            return f"@schedule: {problem}"
        required = [p.name for p in flow.parameters if p.required]
        if required:
            names = ", ".join(f"'{n}'" for n in required)
            return (
                f"@schedule starts runs with the parameters' defaults, and {flow.name}'s "
                f"parameter(s) {names} are required with no default; give them a default="
            )
        return None


schedule = make_flow_decorator(ScheduleDecorator)
