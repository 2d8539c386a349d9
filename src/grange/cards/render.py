"""STUB (replaced by helper A's): render_html, a minimal escaped page."""

from __future__ import annotations

import html
import json
from typing import Any


def render_html(doc: dict[str, Any]) -> str:
    body = html.escape(json.dumps(doc, indent=1, default=str))
    title = html.escape(str(doc.get("title", "")))
    return f"<!doctype html><html><head><title>{title}</title></head><body><pre>{body}</pre></body></html>"
