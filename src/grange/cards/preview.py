"""STUB (replaced by helper A's grange.cards.preview): a truncated repr."""

from __future__ import annotations

from typing import Any


def preview(value: Any) -> dict[str, Any]:
    return {"type": "artifact", "repr": repr(value)[:2000]}
