"""``@card`` reports: components, card documents and their self-contained HTML.

A card is built from components (``Markdown``, ``Table``, ``Image`` ...) into a
*card document*, a JSON-able dict that holds data only; :func:`render.render_html`
turns a document into one HTML page that renders with no network. Rendering a
document never runs user code, so the UI can render a running task's live card.
"""
