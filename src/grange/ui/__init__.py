"""``grange ui``: a web application over the client layer (runs, DAGs, logs, artifacts, cards)."""
