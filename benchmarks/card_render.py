"""What a card costs: the default card of a task with a 100k-row DataFrame, and charts.

    python benchmarks/card_render.py [--repeat 5] [--no-browser]

Prints, best and median of ``--repeat``:
- the default card of a task holding a 100,000-row DataFrame (and a NumPy
  array): building the document (``card_doc``), rendering its HTML, the page size;
- one Vega-Lite chart (200 points) both ways a card can draw it:
  ``js`` (the vendored Vega inlined; Python side only, then drawn in headless
  Chromium when Playwright and Chromium are there) and ``svg`` (vl-convert at
  render time: its first call in a fresh process, then each further chart).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from grange.cards import VegaChart
from grange.cards.components import render_component
from grange.cards.default import TaskFacts, card_doc
from grange.cards.render import render_html

GRAPH = {
    "flow": "BenchFlow",
    "start": "start",
    "steps": {
        "start": {"type": "linear", "next": ["train"], "in": []},
        "train": {"type": "linear", "next": ["end"], "in": ["start"]},
        "end": {"type": "end", "next": [], "in": ["train"]},
    },
}


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return times, out


def show(label: str, times: list[float], extra: str = "") -> None:
    print(
        f"{label:<44} first {times[0] * 1000:7.1f} ms   best {min(times) * 1000:7.1f} ms   "
        f"median {statistics.median(times) * 1000:7.1f} ms  {extra}"
    )


def chart_spec(points: int = 200) -> dict[str, Any]:
    return {
        "mark": {"type": "line", "point": True},
        "data": {"values": [{"x": i, "y": (i * 37) % 101} for i in range(points)]},
        "encoding": {
            "x": {"field": "x", "type": "quantitative"},
            "y": {"field": "y", "type": "quantitative"},
        },
    }


def chart_doc(mode: str) -> dict[str, Any]:
    return {
        "version": 1,
        "type": "blank",
        "title": "chart",
        "final": True,
        "options": {"charts": mode},
        "components": [render_component(VegaChart(chart_spec()))],
    }


def default_card(repeat: int) -> None:
    import numpy as np
    import pandas as pd

    rows = 100_000
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "score": np.random.default_rng(0).random(rows),
            "label": ["a" * 20] * rows,
        }
    )
    facts = TaskFacts(
        pathspec="BenchFlow/1/train/2",
        flow="BenchFlow",
        run_id="1",
        step="train",
        task_id="2",
        attempt=0,
        status="ok",
        started_at=time.time() - 5,
        finished_at=time.time(),
        parameters={"alpha": 0.5},
        artifacts={"frame": frame, "weights": np.random.default_rng(1).random((1000, 100))},
        graph=GRAPH,
    )
    doc_times, doc = timed(
        lambda: card_doc("default", None, facts, [], final=True, options={}), repeat
    )
    html_times, html = timed(lambda: render_html(doc), repeat)
    show("default card, 100k-row DataFrame: document", doc_times)
    show(
        "default card, 100k-row DataFrame: HTML",
        html_times,
        f"page {len(html.encode()) / 1024:.1f} KiB",
    )


def charts_js(repeat: int, browser: bool) -> None:
    times, html = timed(lambda: render_html(chart_doc("js")), repeat)
    show("chart, js: render_html (Python side)", times, f"page {len(html.encode()) / 1024:.1f} KiB")
    if not browser:
        return
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("chart, js: drawn in Chromium                 (skipped: no playwright)")
        return
    sys.path.insert(0, "tests")
    from browser import HAVE_BROWSER, launch_chromium

    if not HAVE_BROWSER:
        print("chart, js: drawn in Chromium                 (skipped: no chromium)")
        return
    draws = []
    with sync_playwright() as p:
        chromium = launch_chromium(p)
        context = chromium.new_context(offline=True)
        for _ in range(repeat):
            page = context.new_page()
            started = time.perf_counter()
            page.set_content(html)
            page.wait_for_selector("[data-rendered=true]")
            draws.append(time.perf_counter() - started)
            page.close()
        chromium.close()
    show("chart, js: page load + draw in Chromium", draws)


def charts_svg(repeat: int) -> None:
    try:
        import vl_convert  # noqa: F401
    except ImportError:
        print("chart, svg: (skipped: vl-convert-python is not installed)")
        return
    code = (
        "import time; t = time.perf_counter(); "
        "from benchmarks.card_render import chart_doc; from grange.cards.render import render_html; "
        "t1 = time.perf_counter(); render_html(chart_doc('svg')); print(time.perf_counter() - t1)"
    )
    firsts = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(min(repeat, 3))
    ]
    show("chart, svg: first chart in a fresh process", firsts)
    times, html = timed(lambda: render_html(chart_doc("svg")), repeat)
    show("chart, svg: each further chart", times, f"page {len(html.encode()) / 1024:.1f} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--no-browser", action="store_true", help="do not draw the js chart in Chromium"
    )
    args = parser.parse_args()
    default_card(args.repeat)
    charts_js(args.repeat, browser=not args.no_browser)
    charts_svg(args.repeat)


if __name__ == "__main__":
    main()
