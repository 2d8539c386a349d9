"""Metaflow's ``metaflow.integrations`` names: ``from grange.integrations import ArgoEvent``.

Loaded on first use, so importing this module costs nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grange.events.publish import ArgoEvent

__all__ = ["ArgoEvent"]


def __getattr__(name: str) -> Any:
    if name == "ArgoEvent":
        from grange.events.publish import ArgoEvent

        return ArgoEvent
    raise AttributeError(f"module 'grange.integrations' has no attribute {name!r}")
