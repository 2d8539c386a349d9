"""Parsers for ``Config(parser=...)`` that grange ships (Metaflow's names)."""

from __future__ import annotations

from typing import Any


def yaml_parser(text: str) -> dict[str, Any]:
    """A YAML document as a mapping (``Config("cfg", default="cfg.yaml", parser=yaml_parser)``)."""
    import yaml  # type: ignore[import-untyped]  # (a dependency of grange)

    value = yaml.safe_load(text)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"the YAML document is a {type(value).__name__}, not a mapping")
    return value
