"""STUB (replaced by helper A's grange.cards.render): the doc as escaped JSON."""

from __future__ import annotations

import json
from html import escape
from typing import Any


def render_html(doc: dict[str, Any]) -> str:
    body = escape(json.dumps(doc, indent=2, default=str))
    return f"<!doctype html><html><body><pre>{body}</pre></body></html>"
