"""How much of a value a card shows: the size budget of a card page.

A card never holds a whole value: tables, previews, reprs and JSON/YAML text
are cut at these limits, and the cut is said on the page ("N more rows").
A rendered page larger than :data:`MAX_CARD_BYTES` is replaced by an error page
that names the cause (docs/cards.md, "How a card page is built").
"""

from __future__ import annotations

import reprlib
from typing import Any

#: A rendered card page past this many bytes is replaced by an error page.
MAX_CARD_BYTES = 20 * 1024 * 1024
#: Rows of a ``Table`` shown (the rest are counted, not rendered).
MAX_TABLE_ROWS = 1000
#: Rows of a DataFrame preview and of ``Table.from_dataframe(truncate=True)``.
PREVIEW_ROWS = 20
#: Columns of a DataFrame preview.
PREVIEW_COLUMNS = 30
#: Characters of one table cell, a repr, a scalar preview.
MAX_TEXT = 2000
#: Characters of Markdown, code, JSON and YAML text.
MAX_LONG_TEXT = 200_000
#: Bytes of one image.
MAX_IMAGE_BYTES = 5 * 1024 * 1024


def cut(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, the cut said at its end."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"… [{len(text) - limit:,} more characters]"


_REPR = reprlib.Repr()
_REPR.maxstring = 200
_REPR.maxother = 200
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = 30
_REPR.maxdict = 30
_REPR.maxlevel = 4


def safe_repr(value: Any, *, compressed: bool = True, limit: int = MAX_TEXT) -> str:
    """A repr of ``value`` that never raises and never runs long."""
    try:
        text = _REPR.repr(value) if compressed else repr(value)
    except Exception as exc:  # a user's __repr__ may raise anything
        return f"<{type_name(value)}: repr() raised {type(exc).__name__}: {exc}>"
    return cut(text, limit)


def type_name(value: Any) -> str:
    """``module.Class`` of a value (``int`` for builtins)."""
    cls = type(value)
    module = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module == "builtins" else f"{module}.{name}"
