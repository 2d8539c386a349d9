"""The timeline (Gantt) of a run: one bar per step, then one per attempt, as SVG geometry.

A run with a 1,000-way foreach has thousands of attempts; the page draws one
bar per step (first start to last end, from one grouped query) and the first
:data:`MAX_BARS` attempts by start time, and says how many it left out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grange.client import listing

if TYPE_CHECKING:
    from grange.client.config import Stores
    from grange.metastore import RunRow

MAX_BARS = 300
WIDTH = 1000  # the SVG's user units; it scales to the page
ROW = 14


@dataclass(frozen=True)
class Bar:
    label: str
    status: str
    x: float
    width: float
    y: int
    title: str
    href: str | None = None


@dataclass
class Timeline:
    bars: list[Bar] = field(default_factory=list)
    height: int = 0
    total: int = 0  # attempts in the run
    shown: int = 0  # attempts drawn
    span: str = ""


def build_timeline(stores: Stores, flow: str, run_id: str, run: RunRow) -> Timeline:
    steps = [s for s in listing.run_steps(stores, flow, run_id) if not s.step.startswith("_")]
    spans, total = listing.run_spans(stores, flow, run_id, limit=MAX_BARS)
    spans = [s for s in spans if not s.step.startswith("_")]
    starts = [s.started_at for s in steps if s.started_at is not None]
    if not starts:
        return Timeline(total=total)
    now = time.time()
    t0 = min(starts)
    ends = [s.finished_at or now for s in steps if s.started_at is not None]
    t1 = max([*ends, run.finished_at or (now if run.status == "running" else t0)])
    scale = WIDTH / max(t1 - t0, 1e-3)
    bars: list[Bar] = []
    y = 0
    for s in steps:
        if s.started_at is None:
            continue
        end = s.finished_at or now
        status = _step_status(s.counts)
        bars.append(
            Bar(
                label=f"{s.step} ({s.total})",
                status=status,
                x=round((s.started_at - t0) * scale, 2),
                width=round(max((end - s.started_at) * scale, 1.0), 2),
                y=y,
                title=f"{s.step}: {s.total} task(s), {end - s.started_at:.2f}s",
            )
        )
        y += ROW
    y += ROW // 2
    base = f"/flows/{flow}/runs/{run_id}/steps"
    for a in spans:
        if a.started_at is None:
            continue
        end = a.finished_at or now
        bars.append(
            Bar(
                label=f"{a.step}/{a.task_id}" + (f" #{a.attempt}" if a.attempt else ""),
                status=a.status,
                x=round((a.started_at - t0) * scale, 2),
                width=round(max((end - a.started_at) * scale, 1.0), 2),
                y=y,
                title=f"{a.step}/{a.task_id} attempt {a.attempt}: {a.status}, "
                f"{end - a.started_at:.2f}s",
                href=f"{base}/{a.step}/tasks/{a.task_id}?attempt={a.attempt}",
            )
        )
        y += ROW
    return Timeline(
        bars=bars, height=y + ROW, total=total, shown=len(spans), span=f"{t1 - t0:.1f}s"
    )


def _step_status(counts: dict[str, int]) -> str:
    for status in ("running", "failed", "crashed"):
        if counts.get(status):
            return status
    return "ok" if counts else "pending"
