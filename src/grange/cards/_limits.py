"""How much of a value a card shows: the size budget of a card page.

A card never holds a whole value: tables, previews, reprs and JSON/YAML text
are cut at these limits, and the cut is said on the page ("N more rows").
The renderer counts the page's bytes as it draws each component: a component
that would take the page past :data:`MAX_CARD_BYTES` is replaced by an error
box naming it, its size and the budget, and the rest of the card is kept
(docs/cards.md, "Size budget").
"""

from __future__ import annotations

import reprlib
from typing import Any

#: A rendered card page past this many bytes is replaced by an error page.
MAX_CARD_BYTES = 20 * 1024 * 1024
#: Rows of a ``Table`` shown (the rest are counted, not rendered).
MAX_TABLE_ROWS = 1000
#: Columns of a ``Table`` shown.
MAX_TABLE_COLUMNS = 200
#: Cells of a ``Table`` shown (rows are cut first so that rows x columns stays under it).
MAX_TABLE_CELLS = 100_000
#: Rows of a DataFrame preview and of ``Table.from_dataframe(truncate=True)``.
PREVIEW_ROWS = 20
#: Columns of a DataFrame preview.
PREVIEW_COLUMNS = 30
#: Characters of one table cell, a repr, a scalar preview.
MAX_TEXT = 2000
#: Characters of Markdown, code, JSON and YAML text.
MAX_LONG_TEXT = 200_000
#: Bytes of the HTML of one Markdown component (reference links can repeat a long URL).
MAX_MARKDOWN_HTML = 4 * 1024 * 1024
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
    """A repr of ``value`` cut to ``limit`` characters; never raises.

    It runs the value's own ``__repr__``, which may take as long as it likes:
    what bounds the time of a card is that cards are rendered out of the
    task's process with a timeout (see ``grange.cards.collector``).
    """
    try:
        text = _REPR.repr(value) if compressed else repr(value)
        if not isinstance(text, str):
            raise TypeError(f"__repr__ returned {type(text).__name__}")
    except Exception as exc:  # a user's __repr__ may raise anything
        return f"<{type_name(value)}: repr() raised {describe_exception(exc)}>"
    return cut(text, limit)


def describe_exception(exc: BaseException, limit: int = 500) -> str:
    """``Type: message`` of an exception; never raises (its ``__str__`` may)."""
    try:
        name = type(exc).__name__
    except Exception:  # pragma: no cover - a type always has a name
        name = "Exception"
    try:
        text = str(exc)
    except Exception as inner:
        try:
            text = f"<str() of the exception raised {type(inner).__name__}>"
        except Exception:  # pragma: no cover
            text = "<str() of the exception raised>"
    return f"{name}: {cut(text, limit)}" if text else name


def type_name(value: Any) -> str:
    """``module.Class`` of a value (``int`` for builtins)."""
    cls = type(value)
    try:
        module = str(getattr(cls, "__module__", "") or "")
        name = str(getattr(cls, "__qualname__", None) or cls.__name__)
    except Exception:
        return "object"
    return name if module == "builtins" else f"{module}.{name}"
