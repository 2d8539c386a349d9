"""Summaries of raw timings, the printed table and the JSON file."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median wall time of the successful runs, plus the median of each extra figure."""
    good = [r for r in runs if r["exit_code"] == 0]
    out: dict[str, Any] = {"runs": len(runs), "ok": bool(runs) and len(good) == len(runs)}
    if good:
        out["median"] = statistics.median(r["wall"] for r in good)
        out["min"] = min(r["wall"] for r in good)
        out["max"] = max(r["wall"] for r in good)
        keys = {k for r in good for k, v in r.get("extras", {}).items() if _number(v)}
        for key in sorted(keys):
            values = [r["extras"][key] for r in good if _number(r["extras"].get(key))]
            out[key] = statistics.median(values) if "rss" not in key else max(values)
    return out


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def _verdict(met: bool | None) -> str:
    return {True: "yes", False: "NO", None: ""}[met]


def table(rows: list[dict[str, Any]]) -> str:
    """Rows: benchmark, grange, metaflow, ratio, target, met."""
    header = ("benchmark", "grange", "metaflow", "ratio", "target", "met")
    cells = [header]
    for row in rows:
        ratio = row.get("ratio")
        cells.append(
            (
                row["name"],
                row.get("grange_text") or seconds(row.get("grange")),
                row.get("metaflow_text") or seconds(row.get("metaflow")),
                f"{ratio:.1f}x" if ratio is not None else "-",
                row.get("target", ""),
                _verdict(row.get("met")),
            )
        )
    widths = [max(len(str(c[i])) for c in cells) for i in range(len(header))]
    lines = []
    for n, cell in enumerate(cells):
        parts = [
            str(v).ljust(w) if i in (0, 4, 5) else str(v).rjust(w)
            for i, (v, w) in enumerate(zip(cell, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
