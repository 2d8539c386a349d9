"""Events, schedules and the embedded scheduler that runs deployed flows on one machine.

``from grange.events import Event`` (or Metaflow's name, ``ArgoEvent``) publishes
an event; runs emit ``metaflow.<project_flow_name>.end`` when they succeed; the
local scheduler (``grange scheduler``) runs deployed flows on their
``@schedule`` and when the events of their ``@trigger``/``@trigger_on_finish``
arrive. This package knows nothing of the Argo compiler or the local runtime:
it starts runs as ``python flow.py run`` processes. See docs/events.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ArgoEvent", "Event"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from grange.events import publish

        return getattr(publish, name)
    raise AttributeError(f"module 'grange.events' has no attribute {name!r}")
