"""``--trigger-event NAME``'s check, shared by the flow's top-level option and ``run``'s
(a module of its own: the top-level command line imports it, and nothing else of
:mod:`grange.cli.trigger_options`)."""

from __future__ import annotations

from typing import Any

from grange.exceptions import CommandError


def one_event_name(_ctx: Any, _param: Any, values: tuple[str, ...]) -> str | None:
    """``--trigger-event``'s value (a click callback): refused when empty, or when
    given twice (which ``--trigger-payload`` goes with which event would be a guess)."""
    if not values:
        return None
    for name in values:
        if not name.strip() or name != name.strip():
            raise CommandError(
                f"--trigger-event {name!r}: an event name is a non-empty text without "
                "surrounding spaces",
                fix="e.g. --trigger-event data_ready",
            )
    if len(values) > 1:
        listed = ", ".join(values)
        raise CommandError(
            f"--trigger-event is given {len(values)} times ({listed}); the run takes one "
            "--trigger-event, whose payload is every --trigger-payload",
            fix='give several events as a JSON list: --trigger-json \'[{"name": "'
            + values[0]
            + '", "id": "1", "timestamp": 1767225600, "payload": {...}}, {"name": "'
            + values[1]
            + "\", ...}]' (or --trigger-json @events.json); --trigger FLOW/RUN may be "
            "repeated next to one --trigger-event",
        )
    return values[0]
