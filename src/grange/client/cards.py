"""STUB (replaced by helper B's grange.client.cards): no cards."""

from __future__ import annotations

from typing import Any


class CardContainer(list[Any]):
    """The cards of a task (the stub holds none)."""


def get_cards(
    task_or_pathspec: Any,
    id: str | None = None,
    type: str | None = None,
    follow_resumed: bool = True,
) -> CardContainer:
    return CardContainer()
