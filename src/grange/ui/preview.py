"""An artifact's preview page: the typed preview of ``grange.cards`` as a small card.

``grange.cards.preview.preview(value)`` gives a component (a DataFrame's head,
an array's shape, dtype and statistics, a truncated repr; never the whole
value) and ``grange.cards.render.render_html`` the page, escaped; the page is
served sandboxed like a card. Should the cards package fail on a value, a
truncated ``repr`` is shown instead, escaped.
"""

from __future__ import annotations

import reprlib
import time
from html import escape
from typing import Any

REPR_MAX = 4000


def preview_page(name: str, type_name: str, size: int, value: Any, *, loaded: bool) -> str:
    title = f"{name}: {type_name}, {size} bytes"
    if not loaded:
        return _text_page(title, "Too large to preview here: download it, or read it in Python.")
    try:
        from grange.cards.preview import preview
        from grange.cards.render import render_html

        doc = {
            "version": 1,
            "type": "blank",
            "id": None,
            "title": title,
            "created_at": time.time(),
            "final": True,
            "components": [preview(value)],
        }
        html: str = render_html(doc)
        return html
    except Exception:  # the preview of an odd value: its repr, below
        return _text_page(title, _repr(value))


def _repr(value: Any) -> str:
    shortened = reprlib.Repr()
    shortened.maxstring = REPR_MAX
    shortened.maxother = REPR_MAX
    shortened.maxlist = shortened.maxdict = shortened.maxtuple = shortened.maxset = 50
    try:
        text = shortened.repr(value)
    except Exception as err:  # a repr that raises
        text = f"<{type(value).__name__}: repr failed: {err!r}>"
    return text[:REPR_MAX]


def _text_page(title: str, text: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title></head><body>"
        f"<h3>{escape(title)}</h3><pre style='white-space:pre-wrap'>{escape(text)}</pre>"
        "</body></html>"
    )
