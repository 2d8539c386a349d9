"""``@card(type="default", id=None, ...)``: a report of the task, rendered when it ends.

A step may carry several ``@card`` decorators (one per ``id``). The decorator
only describes the card: the task layer binds ``current.card`` on steps that
have one, stores live updates while the step runs, and renders each card at
the end of the task in a child process (see :mod:`grange.task.cards`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from grange.decorators.base import StepDecorator, make_step_decorator
from grange.decorators.validate import non_negative_number
from grange.exceptions import DecoratorError

#: The card types grange renders (Metaflow's built-in ``default`` and ``blank``).
CARD_TYPES = ("default", "blank")
CARD_ID = re.compile(r"^[A-Za-z0-9_]+$")
#: The longest card id (it names the card's files).
MAX_ID = 100
#: The most seconds a card's final render may be given.
MAX_TIMEOUT = 3600


def _flag(value: Any) -> bool | None:
    """A bool, also as ``--with card:customize=True`` gives it (text); None if neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


class CardDecorator(StepDecorator):
    """Create a report (a card) of each task of the step when the task ends.

    ``type``: ``"default"`` (the task's facts, artifacts, the DAG, and what the
    step appends) or ``"blank"`` (only what the step appends). ``id`` names the
    card among several on one step (``current.card["id"]``). ``options`` go to
    the card type. ``timeout``: seconds the final render may take before an
    error card replaces it (the task is not failed). ``save_errors``: store a
    card that shows the error when the step or the render fails.
    ``refresh_interval``: at most one live update stored per this many seconds.
    ``customize``: ``current.card.append`` goes to this card.
    """

    name = "card"
    defaults = {
        "type": "default",
        "id": None,
        "options": {},
        "timeout": 45,
        "save_errors": True,
        "refresh_interval": 5,
        "customize": False,
    }
    allow_multiple = True

    def validate(self) -> None:
        a = self.attributes
        if a["type"] not in CARD_TYPES:
            raise DecoratorError(
                f"@card(type={a['type']!r}): there is no card type {a['type']!r}",
                fix="card types: " + ", ".join(repr(t) for t in CARD_TYPES),
            )
        if a["id"] is not None and (
            not isinstance(a["id"], str) or not CARD_ID.match(a["id"]) or len(a["id"]) > MAX_ID
        ):
            shown = a["id"] if not isinstance(a["id"], str) or len(a["id"]) <= 40 else a["id"][:40]
            raise DecoratorError(
                f"@card(id={shown!r}{'...' if shown is not a['id'] else ''}): an id is "
                f"1 to {MAX_ID} letters, digits and '_'",
                fix="write e.g. @card(id='metrics')",
            )
        if not isinstance(a["options"], dict):
            raise DecoratorError(
                f"@card(options={a['options']!r}): options must be a dict",
                fix="write e.g. @card(options={'only_repr': True})",
            )
        for arg in ("save_errors", "customize"):
            flag = _flag(a[arg])
            if flag is None:
                raise DecoratorError(
                    f"@card({arg}={a[arg]!r}): {arg} must be True or False",
                    fix=f"write @card({arg}=True) or @card({arg}=False)",
                )
            a[arg] = flag
        interval = non_negative_number(self, "refresh_interval")
        if interval is None or not math.isfinite(interval):
            raise DecoratorError(
                f"@card(refresh_interval={a['refresh_interval']!r}): refresh_interval must be "
                "a finite number of seconds >= 0",
                fix="write e.g. @card(refresh_interval=5)",
            )
        timeout = non_negative_number(self, "timeout")
        if not timeout or not math.isfinite(timeout) or timeout > MAX_TIMEOUT:
            raise DecoratorError(
                f"@card(timeout={a['timeout']!r}): timeout must be a number of seconds "
                f"above 0 and at most {MAX_TIMEOUT}",
                fix="give the render e.g. @card(timeout=45)",
            )

    @property
    def card_type(self) -> str:
        return str(self.attributes["type"])

    @property
    def card_id(self) -> str | None:
        value = self.attributes["id"]
        return None if value is None else str(value)

    @classmethod
    def sibling_problems(cls, attributes: Sequence[dict[str, Any]]) -> list[tuple[int, str, str]]:
        """Problems of several ``@card`` on one step, as ``(position, message, fix)``:
        two cards with one id, or more than one with ``customize=True``."""
        problems: list[tuple[int, str, str]] = []
        seen: dict[str, int] = {}
        customized: int | None = None
        for position, attrs in enumerate(attributes):
            card_id = attrs.get("id")
            if card_id is not None:
                if card_id in seen:
                    problems.append(
                        (
                            position,
                            f"two @card decorators have id={card_id!r}; current.card[{card_id!r}]"
                            " would not know which one",
                            "give each @card of the step an id of its own",
                        )
                    )
                seen.setdefault(card_id, position)
            if _flag(attrs.get("customize")):
                if customized is not None:
                    problems.append(
                        (
                            position,
                            "two @card decorators have customize=True; current.card.append "
                            "would not know which card to add to",
                            "keep customize=True on one @card, and reach the others with "
                            "current.card['id']",
                        )
                    )
                customized = position
        return problems


card = make_step_decorator(CardDecorator)
