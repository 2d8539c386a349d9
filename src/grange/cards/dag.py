"""STUB (replaced by helper A's grange.cards.dag): a trivial DAG drawing."""

from __future__ import annotations

from html import escape
from typing import Any


def dag_svg(
    graph: dict[str, Any],
    *,
    highlight: str | None = None,
    states: dict[str, dict[str, Any]] | None = None,
    links: dict[str, str] | None = None,
) -> str:
    """One box per step, in a row (the stub)."""
    steps = list((graph.get("steps") or {}).keys())
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{max(1, len(steps)) * 130}" height="60">'
    ]
    for i, name in enumerate(steps):
        state = (states or {}).get(name, {})
        box = (
            f'<g data-testid="dag-node" data-step="{escape(name)}" '
            f'data-status="{escape(str(state.get("status", "pending")))}">'
            f'<rect x="{i * 130 + 5}" y="5" width="120" height="50" fill="#eee" stroke="#333"/>'
            f'<text x="{i * 130 + 15}" y="30">{escape(name)}</text>'
            f'<text x="{i * 130 + 15}" y="48">{state.get("done", 0)}/{state.get("total", 0)}</text>'
            "</g>"
        )
        link = (links or {}).get(name)
        if link:
            box = f'<a href="{escape(link)}">{box}</a>'
        parts.append(box)
    parts.append("</svg>")
    return "".join(parts)
