"""STUB (replaced by helper A's): TaskFacts and card_doc as contract 2 says."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TaskFacts:
    pathspec: str
    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    status: str
    started_at: float | None = None
    finished_at: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    unloaded: dict[str, int] = field(default_factory=dict)
    graph: dict[str, Any] = field(default_factory=dict)
    exception: str | None = None


def card_doc(
    card_type: str,
    card_id: str | None,
    facts: TaskFacts,
    user_components: list[dict[str, Any]],
    *,
    final: bool,
    options: dict[str, Any],
) -> dict[str, Any]:
    components: list[dict[str, Any]] = []
    if card_type == "default":
        components.append({"type": "markdown", "text": f"# {facts.pathspec} {facts.status}"})
        for name, value in facts.artifacts.items():
            shape = f" shape={value.shape} dtype={value.dtype}" if hasattr(value, "dtype") else ""
            text = f"{type(value).__name__}{shape}: {repr(value)[:200]}"
            components.append({"type": "artifact", "name": name, "repr": text})
        for name, size in facts.unloaded.items():
            components.append({"type": "artifact", "name": name, "repr": f"{size} bytes"})
        for name, value in facts.parameters.items():
            components.append({"type": "artifact", "name": name, "repr": repr(value)})
        if facts.exception:
            components.append({"type": "error", "title": "failed", "text": facts.exception})
    components.extend(user_components)
    return {
        "version": 1,
        "type": card_type,
        "id": card_id,
        "title": facts.pathspec,
        "created_at": time.time(),
        "final": final,
        "components": components,
    }
