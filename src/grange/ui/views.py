"""What each page of ``grange ui`` shows, read through the client: plain data for templates.

Every function takes the :class:`~grange.client.config.Stores` the server reads
and names already checked (:mod:`grange.ui.names`); it runs in a worker thread
(the reads block). Objects are looked up with no namespace: the UI shows every
run of the store, and filters by namespace only when asked to.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from grange.client import listing
from grange.client.run import Run
from grange.client.task import Task
from grange.exceptions import GrangeError
from grange.metastore.status import RUN_STATUSES
from grange.ui import names
from grange.ui.timeline import Timeline, build_timeline

if TYPE_CHECKING:
    from grange.client.config import Stores
    from grange.metastore import RunRow

PER_PAGE = 50
MAX_PER_PAGE = 200
LOG_TAIL = 64 * 1024
PARAM_SHOWN = 120


def run(stores: Stores, flow: str, run_id: str) -> Run:
    return Run(f"{flow}/{run_id}", _namespace_check=False, _stores=stores, _namespace=None)


def task(
    stores: Stores, flow: str, run_id: str, step: str, task_id: str, attempt: int | None
) -> Task:
    return Task(
        f"{flow}/{run_id}/{step}/{task_id}",
        attempt,
        _namespace_check=False,
        _stores=stores,
        _namespace=None,
    )


def short(value: Any, limit: int = PARAM_SHOWN) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def duration(start: float | None, end: float | None, *, running: bool = False) -> str:
    if start is None:
        return ""
    stop = end if end is not None else (time.time() if running else None)
    if stop is None:
        return ""
    seconds = max(0.0, stop - start)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{sec:02d}s"


_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def log_text(data: bytes) -> str:
    """Log bytes as shown: UTF-8 (replacing what is not), terminal escape codes
    (colours, cursor moves, titles) removed. A download keeps the bytes."""
    return _ANSI.sub("", data.decode("utf-8", "replace"))


def when(stamp: float | None) -> str:
    if stamp is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def run_summary(row: RunRow) -> dict[str, Any]:
    return {
        "id": row.run_id,
        "status": row.status,
        "user": row.user,
        "tags": sorted(row.tags.user),
        "system_tags": sorted(row.tags.system),
        "created": when(row.created_at),
        "duration": duration(row.started_at, row.finished_at, running=row.status == "running"),
        "parameters": [(k, short(v)) for k, v in sorted(row.parameters.items())],
        "origin": row.origin_run_id,
    }


# -- flows -------------------------------------------------------------------------------


def flows_page(stores: Stores, namespace: str | None) -> dict[str, Any]:
    found = listing.flows(stores, tags=[namespace] if namespace else [])
    return {
        "namespace": namespace,
        "flows": [
            {
                "name": f.name,
                "runs": f.runs,
                "last": run_summary(f.last) if f.last is not None else None,
            }
            for f in found
        ],
    }


# -- runs of a flow ------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFilter:
    tags: tuple[str, ...] = ()
    status: str | None = None
    user: str | None = None
    namespace: str | None = None
    page: int = 1
    per_page: int = PER_PAGE

    @classmethod
    def of(cls, query: Any) -> RunFilter:
        status = query.get("status") or None
        if status is not None and status not in RUN_STATUSES:
            raise names.BadName(f"status {status[:20]!r}: use one of {sorted(RUN_STATUSES)}")
        user = query.get("user") or None
        namespace = query.get("namespace") or None
        return cls(
            tags=tuple(names.tag(t) for t in query.getlist("tag") if t),
            status=status,
            user=names.tag(user) if user else None,
            namespace=names.tag(namespace) if namespace else None,
            page=names.number(query.get("page"), "page", default=1, low=1, high=10**7),
            per_page=names.number(
                query.get("per_page"), "per_page", default=PER_PAGE, low=1, high=MAX_PER_PAGE
            ),
        )

    def query(self, **change: Any) -> list[tuple[str, str]]:
        """The query string items of this filter, with ``change`` applied."""
        values = {
            "status": self.status,
            "user": self.user,
            "namespace": self.namespace,
            "page": self.page,
            "per_page": self.per_page,
            **change,
        }
        items = [("tag", t) for t in self.tags]
        items += [(k, str(v)) for k, v in values.items() if v not in (None, "")]
        return items


def runs_page(stores: Stores, flow: str, chosen: RunFilter) -> dict[str, Any]:
    tags = list(chosen.tags) + ([chosen.namespace] if chosen.namespace else [])
    page = listing.runs_page(
        stores,
        flow,
        tags=tags,
        status=chosen.status,
        user=chosen.user,
        limit=chosen.per_page,
        offset=(chosen.page - 1) * chosen.per_page,
    )
    pages = max(1, -(-page.total // chosen.per_page))
    return {
        "flow": flow,
        "filter": chosen,
        "runs": [run_summary(r) for r in page.rows],
        "total": page.total,
        "pages": pages,
        "statuses": sorted(RUN_STATUSES),
    }


def require_flow(stores: Stores, flow: str) -> None:
    from grange.client.flow import Flow

    Flow(flow, _namespace_check=False, _stores=stores, _namespace=None)


# -- a run ---------------------------------------------------------------------------------


@dataclass
class StepView:
    name: str
    status: str
    done: int
    running: int
    failed: int
    total: int
    counts: dict[str, int] = field(default_factory=dict)


def step_state(counts: dict[str, int]) -> tuple[str, dict[str, int]]:
    done = counts.get("ok", 0) + counts.get("caught", 0)
    running = counts.get("running", 0)
    failed = counts.get("failed", 0) + counts.get("crashed", 0)
    total = sum(counts.values())
    if running:
        status = "running"
    elif counts.get("failed"):
        status = "failed"
    elif counts.get("crashed"):
        status = "crashed"
    elif total and done == total:
        status = "ok"
    else:
        status = "pending"
    return status, {"done": done, "running": running, "failed": failed, "total": total}


def run_page(stores: Stores, flow: str, run_id: str, base: str) -> dict[str, Any]:
    from markupsafe import Markup

    from grange.cards.dag import dag_svg

    found = run(stores, flow, run_id)
    row: RunRow = found._fresh()
    counted = listing.run_steps(stores, flow, run_id)
    steps = []
    states: dict[str, dict[str, Any]] = {}
    for c in counted:
        status, numbers = step_state(c.counts)
        states[c.step] = {"status": status, **numbers}
        steps.append(StepView(c.step, status, counts=dict(c.counts), **numbers))
    graph = getattr(found, "graph", None)
    recorded = isinstance(graph, dict) and bool(graph.get("steps"))
    if not recorded:
        graph = graph_of_steps(flow, [s.name for s in steps if not s.name.startswith("_")])
    assert isinstance(graph, dict)
    # a step without tasks: to come while the run runs; never run once it has ended
    # (a switch branch not taken, the steps after a failure)
    idle = "pending" if row.status == "running" else "not run"
    for name in graph.get("steps", {}):
        states.setdefault(name, {"status": idle, "done": 0, "running": 0, "failed": 0, "total": 0})
    links = {s.name: f"{base}/steps/{s.name}" for s in steps}
    visible = [s for s in steps if not s.name.startswith("_")]
    trigger = None
    try:
        trigger = found.trigger
    except Exception:  # an odd claim never breaks the page
        trigger = None
    return {
        "flow": flow,
        "run": run_summary(row),
        "steps": visible,
        "task_count": sum(s.total for s in visible),
        # dag_svg escapes every name it draws (grange.cards.dag): its SVG goes in as it is
        "dag": Markup(dag_svg(graph, states=states, links=links)) if graph.get("steps") else "",
        "graph_recorded": recorded,
        "timeline": build_timeline(stores, flow, run_id, row),
        "trigger": trigger_view(trigger),
        "origin": row.origin_run_id,
    }


def graph_of_steps(flow: str, steps: list[str]) -> dict[str, Any]:
    """A graph for a run that recorded none: its steps in the order they started."""
    nodes = {}
    for i, name in enumerate(steps):
        nodes[name] = {
            "name": name,
            "type": "linear",
            "next": [steps[i + 1]] if i + 1 < len(steps) else [],
            "in": [steps[i - 1]] if i else [],
        }
    return {
        "flow": flow,
        "start": steps[0] if steps else None,
        "end": steps[-1] if steps else None,
        "steps": nodes,
    }


def trigger_view(trigger: Any) -> list[dict[str, str]] | None:
    if trigger is None:
        return None
    events = []
    for event in getattr(trigger, "events", []) or []:
        events.append(
            {
                "name": str(event.name),
                "id": str(event.id),
                "type": str(event.type),
                "timestamp": str(event.timestamp or ""),
                "payload": short(dict(getattr(event, "payload", {}) or {}), 400),
                "link": _upstream_link(event),
            }
        )
    return events


def _upstream_link(event: Any) -> str:
    """The UI address of the run that a ``run`` event names (its id is the upstream
    run's end task pathspec), or "" when the event is not a run or the names are
    not ones the UI serves."""
    if str(getattr(event, "type", "")) != "run":
        return ""
    parts = str(event.id).split("/")
    if len(parts) < 2:
        return ""
    try:
        flow, run_id = names.flow(parts[0]), names.run_id(parts[1])
    except GrangeError:
        return ""
    return f"/flows/{flow}/runs/{run_id}"


def step_page(stores: Stores, flow: str, run_id: str, step: str, page: int) -> dict[str, Any]:
    from grange.client.step import Step

    found = Step(f"{flow}/{run_id}/{step}", _namespace_check=False, _stores=stores, _namespace=None)
    rows = found._task_rows()
    per = MAX_PER_PAGE
    shown = rows[(page - 1) * per : page * per]
    return {
        "flow": flow,
        "run_id": run_id,
        "step": step,
        "tasks": [
            {"id": r.task_id, "status": r.status, "created": when(r.created_at)} for r in shown
        ],
        "total": len(rows),
        "page": page,
        "pages": max(1, -(-len(rows) // per)),
    }


# -- a task --------------------------------------------------------------------------------


def task_page(
    stores: Stores, flow: str, run_id: str, step: str, task_id: str, attempt: int | None
) -> dict[str, Any]:
    from grange.client.cards import get_cards

    found = task(stores, flow, run_id, step, task_id, attempt)
    attempts = found._attempts()
    all_attempts = attempts if attempt is None else found.parent[task_id]._attempts()
    current = found.current_attempt
    logs = {s: listing.log_slice(found, s, start=None, length=LOG_TAIL) for s in names.STREAMS}
    artifacts = [
        {"name": a.name, "type": a.type, "size": a.size, "sha": a.key}
        for a in found._artifact_rows().values()
        if not a.name.startswith("_")
    ]
    cards = []
    for card in get_cards(found):
        cards.append(
            {
                "slot": card.slot,
                "type": card.type,
                "id": card.id,
                "status": getattr(card, "status", None),
                "attempt": current,  # the page's: a resumed clone's card is found through it
            }
        )
    exception = found.exception
    return {
        "flow": flow,
        "run_id": run_id,
        "step": step,
        "task_id": task_id,
        "attempt": current,
        "pinned": attempt,
        "status": attempts[-1].status if attempts else found._row.status,
        "attempts": [
            {
                "attempt": a.attempt,
                "status": a.status,
                "started": when(a.started_at),
                "finished": when(a.finished_at),
                "duration": duration(a.started_at, a.finished_at, running=a.status == "running"),
                "exception": _exception_line(a.exception),
            }
            for a in all_attempts
        ],
        "logs": logs,
        "artifacts": artifacts,
        "cards": cards,
        "exception": exception,
        "origin": found.origin_pathspec,
    }


def _exception_line(exception: Any) -> str:
    if not exception:
        return ""
    kind = exception.get("type", "") if isinstance(exception, dict) else ""
    message = exception.get("message", "") if isinstance(exception, dict) else str(exception)
    return short(f"{kind}: {message}" if kind else str(message), 300)


__all__ = ["Timeline", "build_timeline"]
