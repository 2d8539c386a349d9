"""The default and blank card documents of a task.

The default card shows the task (pathspec, status with the exception of a
failed task, timings, attempt), its parameters, a typed preview of each
artifact (those too large to load are listed with their size), the flow's DAG
with this step highlighted, and then the step's own components. The blank
card has the components only.

Options (``@card(options={...})``) read here:
``title`` (the page title), ``only_repr`` (True: artifacts as truncated reprs,
no typed previews), ``hidden_artifacts`` (names left out), ``charts``
(``"js"`` or ``"svg"``, see :mod:`grange.cards.charts`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from grange.cards._limits import safe_repr, type_name
from grange.cards.preview import preview

CARD_DOC_VERSION = 1


@dataclass
class TaskFacts:
    """What the default card says of a task (gathered by the task layer)."""

    pathspec: str
    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    status: str  # "running" | "ok" | "failed"
    started_at: float | None = None
    finished_at: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    unloaded: dict[str, int] = field(default_factory=dict)
    graph: dict[str, Any] = field(default_factory=dict)
    exception: str | None = None


def _when(ts: float | None) -> str:
    return "—" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _duration(facts: TaskFacts) -> str:
    if facts.started_at is None:
        return "—"
    end = facts.finished_at if facts.finished_at is not None else time.time()
    seconds = max(0.0, end - facts.started_at)
    if seconds < 60:
        return f"{seconds:.2f} s" + ("" if facts.finished_at is not None else " so far")
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{hours}h {minutes:02d}m {sec:02d}s" if hours else f"{minutes}m {sec:02d}s"
    return text + ("" if facts.finished_at is not None else " so far")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _artifact_components(facts: TaskFacts, options: dict[str, Any]) -> list[dict[str, Any]]:
    hidden = set(options.get("hidden_artifacts") or ())
    only_repr = bool(options.get("only_repr", False))
    out: list[dict[str, Any]] = []
    for name in sorted(facts.artifacts):
        if name in hidden or name.startswith("_") or name in facts.parameters:
            continue
        value = facts.artifacts[name]
        if only_repr:
            comp: dict[str, Any] = {
                "type": "artifact",
                "type_name": type_name(value),
                "repr": safe_repr(value),
            }
        else:
            comp = preview(value)
        comp["name"] = name
        out.append(comp)
    unloaded = [
        [name, _size(size), "not loaded (too large); read it with the client"]
        for name, size in sorted(facts.unloaded.items())
        if name not in hidden
    ]
    if unloaded:
        out.append(
            {"type": "table", "headers": ["artifact", "size", ""], "rows": unloaded, "more_rows": 0}
        )
    if not out:
        out.append({"type": "markdown", "text": "_No artifacts._"})
    return out


def card_doc(
    card_type: str,
    card_id: str | None,
    facts: TaskFacts,
    user_components: list[dict[str, Any]],
    *,
    final: bool,
    options: dict[str, Any],
) -> dict[str, Any]:
    """The card document of a task: ``"default"`` or ``"blank"`` (see the module docstring)."""
    options = dict(options or {})
    doc: dict[str, Any] = {
        "version": CARD_DOC_VERSION,
        "type": card_type,
        "id": card_id,
        "title": str(options.get("title") or facts.pathspec),
        "created_at": time.time(),
        "final": bool(final),
        "components": [],
    }
    if options.get("charts") in ("js", "svg"):
        doc["options"] = {"charts": options["charts"]}
    if card_type != "default":
        doc["components"] = list(user_components)
        return doc
    status: dict[str, Any] = {"type": "status", "status": facts.status}
    if facts.exception:
        status["exception"] = facts.exception
    parts: list[dict[str, Any]] = [
        status,
        {
            "type": "facts",
            "items": [
                ["pathspec", facts.pathspec],
                ["attempt", facts.attempt],
                ["started", _when(facts.started_at)],
                ["finished", _when(facts.finished_at)],
                ["duration", _duration(facts)],
            ],
        },
    ]
    if facts.parameters:
        rows = [[k, safe_repr(v)] for k, v in sorted(facts.parameters.items())]
        parts.append(
            {
                "type": "section",
                "title": "Parameters",
                "components": [{"type": "table", "headers": ["name", "value"], "rows": rows}],
            }
        )
    parts.append(
        {
            "type": "section",
            "title": "Artifacts",
            "components": _artifact_components(facts, options),
        }
    )
    if facts.graph.get("steps"):
        parts.append(
            {
                "type": "section",
                "title": "DAG",
                "components": [{"type": "dag", "graph": facts.graph, "highlight": facts.step}],
            }
        )
    if user_components:
        parts.append({"type": "section", "title": "", "components": list(user_components)})
    doc["components"] = parts
    return doc
