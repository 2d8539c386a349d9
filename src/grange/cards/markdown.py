"""Markdown of a card: CommonMark with tables, raw HTML off, only safe links.

:func:`parse` parses a text and tells the size of its HTML before it is made
(reference links repeat their URL at each use, so a short text can ask for a
huge page); :meth:`Parsed.html` makes it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from html import escape
from typing import Any

from grange.cards.images import is_image_data_uri


@functools.lru_cache(maxsize=1)
def _markdown_it() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.enable("strikethrough")
    md.validateLink = _safe_link  # type: ignore[method-assign]

    def image(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        src = str(token.attrGet("src") or "")
        alt = "".join(t.content for t in (token.children or []))
        if is_image_data_uri(src):
            return f'<img src="{escape(src)}" alt="{escape(alt)}">'
        return f'<span class="md-image" title="images from URLs are not loaded">[image: {escape(alt)}]</span>'

    md.add_render_rule("image", image)
    return md


def _safe_link(url: str) -> bool:
    low = url.strip().lower()
    if low.startswith(("http://", "https://", "mailto:", "#", "/", "./", "../")):
        return True
    if low.startswith("data:"):
        return is_image_data_uri(url.strip())  # an inline image, never data:text/html
    return ":" not in low.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]


@dataclass
class Parsed:
    """A parsed Markdown text and the size of its HTML (bytes, about)."""

    tokens: Any
    env: dict[str, Any]
    size: int

    def html(self) -> str:
        md = _markdown_it()
        return str(md.renderer.render(self.tokens, md.options, self.env))


def parse(text: str) -> Parsed:
    """The tokens of ``text`` and the size of the HTML they make."""
    env: dict[str, Any] = {}
    tokens = _markdown_it().parse(text, env)
    return Parsed(tokens, env, _tokens_size(tokens))


def _tokens_size(tokens: Any) -> int:
    size = 0
    for token in tokens:
        size += len(token.content) + 8
        for value in (token.attrs or {}).values():
            size += len(str(value)) + 8
        if token.children:
            size += _tokens_size(token.children)
    return size
