"""Card pages in headless Chromium with the network off: charts draw, hostile text stays text.

Each page is loaded with ``set_content`` in an offline context whose every
request is aborted and recorded: a card must not even try the network.
Screenshots go to test-artifacts/screenshots/ (cards-*.png).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import pytest

from browser import BROWSER_SKIP, launch_chromium, screenshot_dir
from grange.cards import (
    Artifact,
    Image,
    JSONViewer,
    Markdown,
    ProgressBar,
    Table,
    ValueBox,
    VegaChart,
    YAMLViewer,
)
from grange.cards.components import render_component
from grange.cards.default import TaskFacts, card_doc
from grange.cards.render import render_html

pytestmark = BROWSER_SKIP

PWN = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


GRAPH = {
    "flow": "TrainFlow",
    "start": "start",
    "steps": {
        "start": {"type": "split-foreach", "next": ["train"], "in": [], "foreach_var": "grid"},
        "train": {"type": "linear", "next": ["join"], "in": ["start"], "split_parents": ["start"]},
        "join": {"type": "join", "next": ["end"], "in": ["train"]},
        "end": {"type": "end", "next": [], "in": ["join"]},
    },
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


class Loaded:
    def __init__(self, page: Any, requests: list[str], errors: list[str]) -> None:
        self.page, self.requests, self.errors = page, requests, errors


@pytest.fixture
def load(browser: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def _load(html: str, name: str) -> Loaded:
        context = browser.new_context(offline=True, viewport={"width": 1000, "height": 800})
        contexts.append(context)
        requests: list[str] = []
        errors: list[str] = []
        context.route("**/*", lambda route: (requests.append(route.request.url), route.abort()))
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "request",
            lambda req: requests.append(req.url) if not req.url.startswith("data:") else None,
        )
        page.set_content(html)
        page.wait_for_load_state("load")
        if page.locator("[data-testid=vega-chart]").count():
            page.wait_for_function(
                "[...document.querySelectorAll('[data-testid=vega-chart]')]"
                ".every(e => e.hasAttribute('data-rendered'))"
            )
        page.screenshot(path=str(screenshot_dir() / f"cards-{name}.png"), full_page=True)
        return Loaded(page, requests, errors)

    yield _load
    for context in contexts:
        context.close()


def blank(*components: Any, title: str = "card") -> dict[str, Any]:
    return {
        "version": 1,
        "type": "blank",
        "id": None,
        "title": title,
        "created_at": time.time(),
        "final": True,
        "components": [render_component(c) for c in components],
    }


def test_default_card_with_a_dataframe_preview(load: Any) -> None:
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    frame = pd.DataFrame({"x": np.arange(100_000), "label": [PWN] * 100_000})
    facts = TaskFacts(
        pathspec="TrainFlow/1/start/1",
        flow="TrainFlow",
        run_id="1",
        step="start",
        task_id="1",
        attempt=0,
        status="failed",
        started_at=time.time() - 2,
        finished_at=time.time(),
        parameters={"alpha": PWN},
        artifacts={"frame": frame, "weights": np.linspace(0, 1, 500), "note": PWN},
        unloaded={"big": 2**31},
        graph=GRAPH,
        exception=f"ValueError: {PWN}",
    )
    html = render_html(card_doc("default", None, facts, [], final=True, options={}))
    loaded = load(html, "default")
    page = loaded.page
    assert page.evaluate("window.pwned") is None
    assert loaded.requests == [] and loaded.errors == []
    assert page.locator("[data-testid=card-status]").inner_text() == "failed"
    assert "99,980 more rows" in page.content()
    assert page.locator("[data-testid=card-table]").first.is_visible()
    assert page.locator("[data-testid=dag-node][data-step=start][data-highlight=true]").count() == 1
    assert PWN in page.locator("body").inner_text()  # shown as text


def test_charts_render_offline_from_a_spec_and_from_altair(load: Any) -> None:
    alt = pytest.importorskip("altair")
    pd = pytest.importorskip("pandas")
    spec = {
        "mark": "bar",
        "data": {
            "values": [
                {"a": "</script><script>window.pwned=1</script>", "b": 3},
                {"a": "y", "b": 5},
            ]
        },
        "encoding": {
            "x": {"field": "a", "type": "nominal"},
            "y": {"field": "b", "type": "quantitative"},
        },
    }
    frame = pd.DataFrame({"x": range(20), "y": [v * v for v in range(20)]})
    chart = alt.Chart(frame).mark_line(point=True).encode(x="x", y="y").properties(title=PWN)
    remote = {"mark": "point", "data": {"url": "https://example.org/data.csv"}}
    html = render_html(
        blank(VegaChart(spec), VegaChart(chart, show_controls=True), VegaChart(remote))
    )
    loaded = load(html, "charts")
    page = loaded.page
    assert loaded.requests == [] and loaded.errors == []
    assert page.evaluate("window.pwned") is None
    charts = page.locator("[data-testid=vega-chart]")
    assert charts.count() == 3
    for i in (0, 1):
        assert charts.nth(i).get_attribute("data-rendered") == "true"
        assert (
            charts.nth(i).locator("svg .mark-rect path, svg .mark-line path, svg path").count() > 0
        )
    assert "</script><script>window.pwned" in charts.nth(0).locator("svg").text_content()  # a label
    assert charts.nth(2).get_attribute("data-rendered") == "error"
    assert "loads no URL" in page.locator("[data-testid=chart-error]").inner_text()
    # show_controls=True: buttons that save that chart (and only that one) as SVG/PNG
    assert page.locator("[data-testid=chart-save-svg]").count() == 1
    with page.expect_download() as download:
        page.locator("[data-testid=chart-save-svg]").click()
    assert download.value.suggested_filename == "chart.svg"
    assert loaded.requests == []


def test_svg_charts_without_script(load: Any) -> None:
    pytest.importorskip("vl_convert")
    spec = {
        "mark": "bar",
        "data": {"values": [{"a": PWN, "b": 1}]},
        "encoding": {
            "y": {"field": "a", "type": "nominal"},
            "x": {"field": "b", "type": "quantitative"},
        },
    }
    doc = blank(VegaChart(spec))
    doc["options"] = {"charts": "svg"}
    loaded = load(render_html(doc), "charts-svg")
    assert loaded.requests == [] and loaded.page.evaluate("window.pwned") is None
    assert loaded.page.locator("[data-testid=vega-chart] svg path").count() > 0


def test_components_and_hostile_strings(load: Any) -> None:
    html = render_html(
        blank(
            Markdown(f"# Report\n\n{PWN}\n\n[click](javascript:window.pwned=3) **bold**"),
            Table(
                [[PWN, 1.5, Markdown("*cell*")], ["b", 2, Image(PNG, label=PWN)]],
                headers=["name", PWN, "c"],
            ),
            Image(PNG, label="dot"),
            Artifact({"k": PWN}, name=PWN),
            JSONViewer({"k": PWN}),
            YAMLViewer({"k": [PWN]}),
            ProgressBar(max=10, value=7, label=PWN),
            ValueBox(title="accuracy", value=0.93, theme="success", change_indicator=PWN),
            title=PWN,
        )
    )
    loaded = load(html, "components")
    page = loaded.page
    assert loaded.requests == [] and loaded.errors == []
    assert page.evaluate("window.pwned") is None
    assert page.title() == PWN
    assert page.locator("a", has_text="click").count() == 0  # the javascript: link is refused
    assert page.evaluate("window.pwned") is None
    assert page.locator("img").first.evaluate("i => i.naturalWidth") == 1
    body = page.locator("body").inner_text()
    assert body.count("window.pwned=1") >= 6
