"""The local scheduler (``grange scheduler``): runs deployed flows on their schedule
and when their events arrive. See docs/events.md, "The local scheduler".

- :mod:`~grange.events.scheduler.loop`: :class:`Scheduler`, one pass at a time;
- :mod:`~grange.events.scheduler.cron`: ticks (croniter, zoneinfo);
- :mod:`~grange.events.scheduler.matching`: events → runs (AND, reset, duplicates);
- :mod:`~grange.events.scheduler.launch`: runs as processes from the code package;
- :mod:`~grange.events.scheduler.state`: its tables; :mod:`~grange.events.scheduler.lease`:
  one scheduler per database; :mod:`~grange.events.scheduler.clock`: real or test time;
- :mod:`~grange.events.scheduler.service`: the process (loop, HTTP endpoint, signals).
"""
