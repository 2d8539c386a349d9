"""STUB (replaced by helper A's): the few component names the card plumbing calls."""

from __future__ import annotations

import json
from typing import Any


class CardComponent:
    type = "component"
    REALTIME_UPDATABLE = False
    component_id: str | None = None

    def render(self) -> dict[str, Any]:
        raise NotImplementedError


MetaflowCardComponent = CardComponent


class Markdown(CardComponent):
    type = "markdown"

    def __init__(self, text: str | None = None) -> None:
        self._text = text or ""

    def update(self, text: str | None = None) -> None:
        self._text = text or ""

    def render(self) -> dict[str, Any]:
        return {"type": "markdown", "text": self._text}


def error_dict(title: str, text: str = "") -> dict[str, Any]:
    return {"type": "error", "title": str(title), "text": str(text)}


def render_component(component: Any) -> dict[str, Any]:
    if isinstance(component, dict):
        return component
    try:
        out = component.render()
        json.dumps(out)
    except Exception as exc:
        return error_dict(f"{type(component).__name__}.render() failed: {exc}")
    return out
