"""The flow's DAG as an inline SVG, drawn from ``FlowGraph.to_dict()``.

Steps are laid out in layers from the start step down (longest path, loops
left out), branches side by side. A foreach's body is drawn as a stack of
cards and its edge says ``foreach <var>``; a switch is a rhombus whose edges
carry their case; a case that goes back up (a loop) curves round on the right.
Each step is ``<g data-testid="dag-node" data-step=NAME>``; ``states`` colours
steps and shows done/total, ``links`` makes steps links. Every name is escaped.

An edge that skips layers goes round the steps between through a waypoint on
each layer it crosses. Those waypoints grow with the square of a graph's depth
in the worst case (a step that fans out to a long chain), so past
:data:`MAX_WAYPOINTS` long edges are drawn straight instead: the drawing of a
graph of N steps and E edges then costs about O(N + E).
"""

from __future__ import annotations

import itertools
from html import escape
from typing import Any

NODE_W = 150
NODE_H = 38
STATE_H = 52
GAP_X = 36
GAP_Y = 64
PAD = 24
LOOP_MARGIN = 70
DUMMY_W = 12
#: Waypoints of long edges past which long edges are drawn straight.
MAX_WAYPOINTS = 2000

COLOURS = {
    # status: (fill, stroke)
    "ok": ("#e3f4e6", "#2e7d32"),
    "failed": ("#fde4e4", "#c62828"),
    "crashed": ("#fbe3d4", "#bf360c"),
    "running": ("#e1ecfb", "#1565c0"),
    "pending": ("#f3f4f6", "#9ca3af"),
    "not run": ("#f9fafb", "#d1d5db"),
}
DEFAULT_COLOURS = ("#ffffff", "#6b7280")
HIGHLIGHT = ("#fff7d6", "#b45309")


def _safe_href(url: str) -> str | None:
    low = url.strip().lower()
    if low.startswith(("http://", "https://", "/", "?", "#", "./", "../")):
        return url
    if ":" in low.split("/", 1)[0]:
        return None  # javascript:, data:, vbscript: ...
    return url


def _short(name: str, limit: int = 20) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _layout(
    steps: dict[str, dict[str, Any]], start: str
) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Layer of each step (longest path from start) and the back edges left out."""
    back: set[tuple[str, str]] = set()
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(root: str) -> None:
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            name, i = stack.pop()
            nexts = [n for n in steps[name].get("next", []) if n in steps]
            if i < len(nexts):
                stack.append((name, i + 1))
                child = nexts[i]
                if state.get(child) == 1:
                    back.add((name, child))
                elif child not in state:
                    state[child] = 1
                    stack.append((child, 0))
            else:
                state[name] = 2
                order.append(name)

    if start in steps:
        visit(start)
    for name in steps:
        if name not in state:
            visit(name)
    layer: dict[str, int] = {n: 0 for n in steps}
    for name in reversed(order):  # reverse post-order is a topological order
        for child in steps[name].get("next", []):
            if child in steps and (name, child) not in back:
                layer[child] = max(layer[child], layer[name] + 1)
    return layer, back


def _virtual(
    steps: dict[str, dict[str, Any]], layer: dict[str, int], back: set[tuple[str, str]]
) -> tuple[
    dict[int, list[str]],
    dict[tuple[str, str], list[str]],
    dict[str, list[str]],
    dict[str, list[str]],
]:
    """Layers with a waypoint on every layer a long edge crosses (so it goes round steps)."""
    rows: dict[int, list[str]] = {}
    for name in steps:
        rows.setdefault(layer[name], []).append(name)
    routes: dict[tuple[str, str], list[str]] = {}
    ups: dict[str, list[str]] = {n: [] for n in steps}
    downs: dict[str, list[str]] = {n: [] for n in steps}
    spans = sum(
        max(0, layer[t] - layer[n] - 1)
        for n, s in steps.items()
        for t in s.get("next", [])
        if t in steps and (n, t) not in back
    )
    route_long = spans <= MAX_WAYPOINTS
    for name, step in steps.items():
        for target in step.get("next", []):
            if target not in steps or (name, target) in back:
                continue
            chain = [name]
            for depth in range(layer[name] + 1, layer[target] if route_long else 0):
                dummy = f"\x00{name}\x00{target}\x00{depth}"
                rows.setdefault(depth, []).append(dummy)
                ups[dummy], downs[dummy] = [], []
                chain.append(dummy)
            chain.append(target)
            routes[(name, target)] = chain[1:-1]
            for a, b in itertools.pairwise(chain):
                downs[a].append(b)
                ups[b].append(a)
    return dict(sorted(rows.items())), routes, ups, downs


def _order(
    rows: dict[int, list[str]], ups: dict[str, list[str]], downs: dict[str, list[str]]
) -> None:
    """Order each layer to cross few edges: barycentre sweeps down and up."""
    index: dict[str, float] = {}
    for names in rows.values():
        for i, n in enumerate(names):
            index[n] = i

    def sweep(depths: list[int], near: dict[str, list[str]]) -> None:
        for depth in depths:
            names = rows[depth]

            def key(n: str, names: list[str] = names) -> float:
                linked = near[n]
                return sum(index[m] for m in linked) / len(linked) if linked else index[n]

            names.sort(key=key)
            for i, n in enumerate(names):
                index[n] = i

    depths = list(rows)
    for _ in range(2):
        sweep(depths[1:], ups)
        sweep(depths[-2::-1], downs)
    sweep(depths[1:], ups)


def _row_width(names: list[str], steps: dict[str, dict[str, Any]]) -> float:
    widths = [NODE_W if n in steps else DUMMY_W for n in names]
    return sum(widths) + GAP_X * (len(widths) - 1)


def dag_svg(
    graph: dict[str, Any],
    *,
    highlight: str | None = None,
    states: dict[str, dict[str, Any]] | None = None,
    links: dict[str, str] | None = None,
) -> str:
    """An inline ``<svg>`` of the flow's DAG (see the module docstring)."""
    steps: dict[str, dict[str, Any]] = dict(graph.get("steps") or {})
    if not steps:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40" role="img"><text x="8" y="24" font-size="13">(no steps)</text></svg>'
    layer, back = _layout(steps, str(graph.get("start") or "start"))
    node_h = STATE_H if states else NODE_H
    rows, routes, ups, downs = _virtual(steps, layer, back)
    _order(rows, ups, downs)
    row_width = {d: _row_width(names, steps) for d, names in rows.items()}
    inner = max(row_width.values())
    has_back = bool(back)
    width = PAD * 2 + inner + (LOOP_MARGIN if has_back else 0)
    height = PAD * 2 + len(rows) * node_h + (len(rows) - 1) * GAP_Y
    centre = PAD + inner / 2
    xy: dict[str, tuple[float, float]] = {}
    for depth, names in rows.items():
        x = centre - row_width[depth] / 2
        top = PAD + depth * (node_h + GAP_Y)
        for n in names:
            w = NODE_W if n in steps else DUMMY_W
            xy[n] = (x + w / 2, top)
            x += w + GAP_X
    foreach_body = _foreach_bodies(steps)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="grange-dag" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="{escape(str(graph.get("flow") or "flow"))} DAG" font-family="system-ui, sans-serif">',
        '<defs><marker id="dag-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/></marker></defs>',
    ]
    parts += _edges(steps, xy, back, routes, node_h, width)
    for name, step in steps.items():
        parts.append(
            _node(name, step, xy[name], node_h, highlight, states, links, name in foreach_body)
        )
    parts.append("</svg>")
    return "".join(parts)


def _foreach_bodies(steps: dict[str, dict[str, Any]]) -> set[str]:
    """Steps that run once per foreach item or parallel worker (drawn as a stack)."""
    many = {n for n, s in steps.items() if s.get("type") in ("split-foreach", "split-parallel")}
    return {n for n, s in steps.items() if any(p in many for p in s.get("split_parents", []))}


def _edge_labels(step: dict[str, Any]) -> dict[str, str]:
    if step.get("type") == "split-switch" or "switch_cases" in step:
        labels: dict[str, list[str]] = {}
        for case, target in (step.get("switch_cases") or {}).items():
            labels.setdefault(target, []).append(str(case))
        return {t: " | ".join(c) for t, c in labels.items()}
    if step.get("type") == "split-foreach":
        var = step.get("foreach_var")
        return {t: f"foreach {var}" if var else "foreach" for t in step.get("next", [])}
    if step.get("type") == "split-parallel":
        n = step.get("num_parallel")
        return {t: f"parallel x{n}" if n is not None else "parallel" for t in step.get("next", [])}
    return {}


def _edges(
    steps: dict[str, dict[str, Any]],
    xy: dict[str, tuple[float, float]],
    back: set[tuple[str, str]],
    routes: dict[tuple[str, str], list[str]],
    node_h: int,
    width: float,
) -> list[str]:
    out: list[str] = []
    for name, step in steps.items():
        labels = _edge_labels(step)
        x1, y1 = xy[name]
        for target in step.get("next", []):
            if target not in xy:
                continue
            x2, y2 = xy[target]
            label = labels.get(target)
            dashed = ' stroke-dasharray="5 3"' if step.get("type") == "split-foreach" else ""
            attrs = f'data-from="{escape(name)}" data-to="{escape(target)}"'
            if (name, target) in back:
                # A loop: out of the right side, round, into the right side of the target.
                sx, sy = x1 + NODE_W / 2, y1 + node_h / 2
                tx, ty = x2 + NODE_W / 2, y2 + node_h / 2
                rx = min(max(sx, tx) + LOOP_MARGIN - 10, width - 6)
                d = f"M{sx:.0f},{sy:.0f} C{rx:.0f},{sy:.0f} {rx:.0f},{ty:.0f} {tx + 2:.0f},{ty:.0f}"
                if (sx, sy) == (tx, ty):
                    d = (
                        f"M{sx:.0f},{sy - 8:.0f} C{rx:.0f},{sy - 40:.0f} "
                        f"{rx:.0f},{sy + 40:.0f} {sx + 2:.0f},{sy + 8:.0f}"
                    )
                # The label sits just right of the curve's outermost point (t = 1/2).
                lx, ly = 0.75 * rx + 0.125 * (sx + tx) + 2, (sy + ty) / 2
                out.append(
                    f'<path class="dag-edge dag-loop" {attrs} d="{d}" fill="none" stroke="#6b7280" '
                    f'stroke-width="1.4" marker-end="url(#dag-arrow)"/>'
                )
            else:
                # Down through the waypoints of the layers it crosses.
                points = [(x1, y1 + node_h)]
                for dummy in routes.get((name, target), []):
                    dx, dy = xy[dummy]
                    points += [(dx, dy), (dx, dy + node_h)]
                points.append((x2, y2 - 1))
                d = f"M{points[0][0]:.0f},{points[0][1]:.0f}"
                for k in range(0, len(points) - 1, 2):
                    (sx, sy), (tx, ty) = points[k], points[k + 1]
                    my = (sy + ty) / 2
                    d += f" C{sx:.0f},{my:.0f} {tx:.0f},{my:.0f} {tx:.0f},{ty:.0f}"
                    if k + 2 < len(points):
                        d += f" L{points[k + 2][0]:.0f},{points[k + 2][1]:.0f}"
                (sx, sy), (tx, ty) = points[0], points[1]
                lx, ly = (sx + tx) / 2, (sy + ty) / 2
                out.append(
                    f'<path class="dag-edge" {attrs} d="{d}" fill="none" stroke="#6b7280" '
                    f'stroke-width="1.4"{dashed} marker-end="url(#dag-arrow)"/>'
                )
            if label:
                text = escape(_short(label, 28))
                out.append(
                    f'<text class="dag-edge-label" x="{lx + 4:.0f}" y="{ly + 4:.0f}" font-size="11" '
                    f'fill="#374151" paint-order="stroke" stroke="#fff" stroke-width="3">{text}</text>'
                )
    return out


def _node(
    name: str,
    step: dict[str, Any],
    at: tuple[float, float],
    node_h: int,
    highlight: str | None,
    states: dict[str, dict[str, Any]] | None,
    links: dict[str, str] | None,
    stacked: bool,
) -> str:
    cx, top = at
    left = cx - NODE_W / 2
    state = (states or {}).get(name) or {}
    status = str(state.get("status") or ("pending" if states else ""))
    fill, stroke = COLOURS.get(status, DEFAULT_COLOURS)
    is_highlight = name == highlight
    if is_highlight:
        fill, stroke = HIGHLIGHT if not states else (fill, HIGHLIGHT[1])
    stroke_w = 3 if is_highlight else 1.4
    ename = escape(name)
    attrs = f'data-testid="dag-node" data-step="{ename}" data-type="{escape(str(step.get("type", "")))}"'
    if states:
        attrs += f' data-status="{escape(status)}"'
    if is_highlight:
        attrs += ' data-highlight="true"'
    shape: list[str] = []
    if step.get("type") == "split-switch" or "switch_cases" in step:
        mid = top + node_h / 2

        def rhombus(dx: float, dy: float) -> str:
            return (
                f"{cx + dx:.0f},{top + dy:.0f} {left + NODE_W + dx:.0f},{mid + dy:.0f} "
                f"{cx + dx:.0f},{top + node_h + dy:.0f} {left + dx:.0f},{mid + dy:.0f}"
            )

        if stacked:  # a switch in a foreach body: a stack of rhombi, as of cards
            for off in (6, 3):
                shape.append(
                    f'<polygon points="{rhombus(off, -off)}" fill="{fill}" stroke="{stroke}" '
                    'stroke-width="1"/>'
                )
        shape.append(
            f'<polygon points="{rhombus(0, 0)}" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{stroke_w}"/>'
        )
    else:
        if stacked:
            for off in (6, 3):
                shape.append(
                    f'<rect x="{left + off:.0f}" y="{top - off:.0f}" width="{NODE_W}" height="{node_h}" '
                    f'rx="6" fill="{fill}" stroke="{stroke}" stroke-width="1"/>'
                )
        shape.append(
            f'<rect x="{left:.0f}" y="{top:.0f}" width="{NODE_W}" height="{node_h}" rx="6" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{stroke_w}"/>'
        )
    label_y = top + (node_h / 2 + 5 if not states else 21)
    weight = ' font-weight="700"' if is_highlight else ""
    shape.append(
        f'<text x="{cx:.0f}" y="{label_y:.0f}" text-anchor="middle" font-size="13" '
        f'fill="#111827"{weight}>{escape(_short(name))}</text>'
    )
    if states:
        done, total = int(state.get("done") or 0), int(state.get("total") or 0)
        extra = []
        if state.get("running"):
            extra.append(f"{int(state['running'])} running")
        if state.get("failed"):
            extra.append(f"{int(state['failed'])} failed")
        counts = f"{done}/{total}" + (" · " + ", ".join(extra) if extra else "")
        if status == "not run":  # a switch branch not taken: not 0/0
            counts = "not run"
        shape.append(
            f'<text class="dag-counts" x="{cx:.0f}" y="{top + 40:.0f}" text-anchor="middle" '
            f'font-size="11" fill="#374151">{escape(counts)}</text>'
        )
    tip = name if not status else f"{name} ({status})"
    body = f"<title>{escape(tip)}</title>" + "".join(shape)
    href = _safe_href((links or {}).get(name, "")) if links and name in links else None
    if href is not None:
        body = f'<a href="{escape(href)}" target="_top">{body}</a>'
    return f"<g {attrs}>{body}</g>"
