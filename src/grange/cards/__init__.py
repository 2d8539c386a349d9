"""``@card`` reports: components, card documents and their self-contained HTML.

A card is built from components (``Markdown``, ``Table``, ``Image`` ...) into a
*card document*, a JSON-able dict that holds data only; :func:`render.render_html`
turns a document into one HTML page that renders with no network. Rendering a
document never runs user code, so the UI can render a running task's live card.
Importing this package is cheap: markdown-it, PyYAML, pandas, NumPy and
vl-convert are imported only when a card needs them. (``get_cards``, Metaflow's
``metaflow.cards.get_cards``, is re-exported lazily from ``grange.client.cards``.)
"""

from __future__ import annotations

from grange.cards.components import (
    Artifact,
    CardComponent,
    Error,
    JSONViewer,
    Markdown,
    MetaflowCardComponent,
    ProgressBar,
    PythonCode,
    Table,
    ValueBox,
    YAMLViewer,
)
from grange.cards.media import Image, VegaChart

__all__ = [
    "Artifact",
    "CardComponent",
    "Error",
    "Image",
    "JSONViewer",
    "Markdown",
    "MetaflowCardComponent",
    "ProgressBar",
    "PythonCode",
    "Table",
    "ValueBox",
    "VegaChart",
    "YAMLViewer",
]


def __getattr__(name: str) -> object:
    """``get_cards``, re-exported lazily from :mod:`grange.client.cards` (the one
    upward import of this package, as Metaflow's ``metaflow.cards.get_cards``)."""
    if name == "get_cards":
        from grange.client.cards import get_cards

        return get_cards
    raise AttributeError(f"module 'grange.cards' has no attribute {name!r}")
