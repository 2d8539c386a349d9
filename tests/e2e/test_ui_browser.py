"""``grange ui`` in headless Chromium, over a store of real runs.

One store (real runs of tests/flows/ui), one ``grange ui`` server and one
browser serve the whole module; each test opens its own browser context.
The tests click through the pages as a user does (flows -> runs -> run ->
task -> card), watch a running flow update live without reloading, and try
hostile text in tags, parameters and cards. Every page is screenshot into
``test-artifacts/screenshots/`` (:func:`browser.screenshot_dir`).

``GRANGE_UPDATE_SCREENSHOT=1`` also writes the README's screenshot,
``docs/ui-screenshot.png`` (the run page of the live test's finished run, 1280x800).
"""

from __future__ import annotations

import os
import re
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_browser_support import (
    GUARD_SECONDS,
    HOSTILE,
    UI_FLOWS,
    Store,
    UiServer,
    kill_quietly,
    make_store,
    start_run,
    wait_for,
)

from browser import BROWSER_SKIP, ROOT, launch_chromium, screenshot_dir

pytestmark = BROWSER_SKIP

GUARD_MS = GUARD_SECONDS * 1000  # failure guards for the browser's waits, never timings
VIEWPORT = {"width": 1280, "height": 800}
SHAPES_STEPS = {"start", "square", "gather", "decide", "heads", "tails", "after", "end"}
SHAPES_TASKS = 9  # start, 3 x square, gather, decide, heads, after, end (tails never runs)
NO_PWN = "() => typeof window.pwned === 'undefined'"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return make_store(tmp_path_factory.mktemp("ui-store"))


@pytest.fixture(scope="module")
def card_run(store: Store) -> str:
    """A run of UiChartCardFlow (a default @card with a DataFrame, Markdown and a chart)."""
    done = store.runner.run(UI_FLOWS / "cards.py")
    assert done.run_id
    return done.run_id


@pytest.fixture(scope="module")
def ui(store: Store) -> Iterator[UiServer]:
    server = UiServer(store.folder, store.env(), store.folder / "ui.log").start()
    yield server
    code = server.stop()  # SIGTERM (SIGKILL only if it does not exit)
    # uvicorn stops gracefully, then raises the SIGTERM again: -15 is an orderly end
    assert code in (0, -signal.SIGTERM), f"grange ui ended {code}:\n{server.output()}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import expect as playwright_expect
    from playwright.sync_api import sync_playwright

    playwright_expect.set_options(timeout=GUARD_MS)  # a failure guard for every expect()
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(GUARD_MS)
    errors: list[str] = []
    tab = context.new_page()
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page: Any, name: str) -> Path:
    path = screenshot_dir() / f"ui-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def open_task(page: Any, step: str) -> None:
    """From a run page, click the DAG's node of ``step`` (a link), and on the step's
    page its first task, unless the node led to a task page already."""
    node = f"[data-testid=dag-node][data-step={step}]"
    page.locator(f"[data-testid=dag] :is({node} a, a:has({node}))").first.click()
    task_page = re.compile(rf"/steps/{step}/tasks/[^/?]+")
    page.wait_for_url(re.compile(rf"/steps/{step}(/tasks/[^/?]+)?(\?.*)?$"))
    if not task_page.search(page.url):
        page.locator(f"a[href*='/steps/{step}/tasks/']").first.click()
    page.wait_for_url(task_page)


def expect_chart_drawn(card: Any) -> None:
    """The card's Vega-Lite chart is drawn (by the inlined Vega, or as SVG when the card
    was rendered): its box says so and an axis label is on the page as SVG text."""
    chart = card.locator("[data-testid=vega-chart]").first
    expect(chart).to_have_attribute("data-rendered", re.compile("^(true|svg)$"))
    expect(chart.locator("svg text", has_text="feb").first).to_be_visible()


def readme_screenshot(page: Any) -> None:
    """docs/ui-screenshot.png: the run page as loaded afresh, at 1280x800, zoomed out
    (as a browser's 70 %) so that the DAG, the steps and the timeline all show."""
    page.goto(page.url)
    page.evaluate("() => { document.documentElement.style.zoom = '0.7' }")
    docs = ROOT / "docs" / "ui-screenshot.png"
    page.screenshot(path=str(docs))  # the viewport only
    assert docs.stat().st_size < 300_000, "the README's screenshot is over 300 KB"


def served_task_count(url: str) -> int | None:
    """The task count of a run page as the server renders it now (no browser)."""
    with urllib.request.urlopen(url, timeout=GUARD_SECONDS) as response:
        page = response.read().decode()
    found = re.search(r'data-testid="?task-count"?[^>]*>\s*([\d,]+)\s*<', page)
    return int(found.group(1).replace(",", "")) if found else None


# -- clicking through ------------------------------------------------------------------------


def test_flows_runs_run_and_task_pages_by_clicking(ui: UiServer, store: Store, page: Any) -> None:
    page.goto(ui.url("/"))
    row = page.locator("tr[data-testid=flow-row][data-flow=UiShapesFlow]")
    expect(row).to_be_visible()
    expect(page.locator("tr[data-testid=flow-row][data-flow=UiFailFlow]")).to_be_visible()
    shot(page, "flows")

    row.locator("a").first.click()
    page.wait_for_url(re.compile(r"/flows/UiShapesFlow(\?.*)?$"))
    run_row = page.locator(f"tr[data-testid=run-row][data-run='{store.shapes}']")
    expect(run_row).to_be_visible()
    expect(run_row.locator("[data-testid=run-status]")).to_contain_text(
        re.compile("succeeded|ok|done", re.I)
    )
    expect(page.locator(f"tr[data-testid=run-row][data-run='{store.hostile}']")).to_be_visible()
    shot(page, "runs")

    run_row.locator(f"a[href*='/runs/{store.shapes}']").first.click()
    page.wait_for_url(re.compile(rf"/flows/UiShapesFlow/runs/{store.shapes}(\?.*)?$"))
    dag = page.locator("[data-testid=dag]")
    expect(dag).to_be_visible()
    nodes = dag.locator("[data-testid=dag-node]")
    expect(nodes).to_have_count(len(SHAPES_STEPS))
    drawn = {nodes.nth(i).get_attribute("data-step") for i in range(nodes.count())}
    assert drawn == SHAPES_STEPS
    # the foreach node counts its three tasks; both cases of the switch are drawn
    expect(dag.locator("[data-testid=dag-node][data-step=square]")).to_contain_text("3")
    expect(dag.locator("[data-testid=dag-node][data-step=tails]")).to_be_visible()
    expect(page.locator("[data-testid=task-count]")).to_have_text(
        re.compile(rf"^\s*{SHAPES_TASKS}\s*$")
    )
    expect(page.locator("[data-testid=timeline]")).to_be_visible()
    expect(page.locator("[data-testid=parameters]")).to_contain_text("width")
    expect(page.locator("[data-testid=tags]")).to_contain_text("nightly")
    shot(page, "run")

    open_task(page, "square")
    expect(page.locator("[data-testid=attempts]")).to_be_visible()
    expect(page.locator("[data-testid=log-stdout]")).to_contain_text("squaring")
    expect(page.locator("[data-testid=log-stderr]")).to_contain_text("stderr line of task")
    expect(page.locator("[data-testid=artifacts]")).to_contain_text("value")
    shot(page, "task")


def test_a_failed_run_reads_failed_down_to_its_traceback(
    ui: UiServer, store: Store, page: Any
) -> None:
    page.goto(ui.url("/flows/UiFailFlow"))
    row = page.locator(f"tr[data-testid=run-row][data-run='{store.failed}']")
    expect(row.locator("[data-testid=run-status]")).to_contain_text(re.compile("failed", re.I))
    row.locator(f"a[href*='/runs/{store.failed}']").first.click()
    page.wait_for_url(re.compile(rf"/runs/{store.failed}(\?.*)?$"))
    expect(page.locator("[data-testid=dag-node][data-step=boom]")).to_be_visible()
    shot(page, "run-failed")
    open_task(page, "boom")
    expect(page.locator("[data-testid=log-stdout]")).to_contain_text("about to fail")
    expect(page.locator("[data-testid=log-stderr]")).to_contain_text(
        "ValueError: the boom step fails on purpose"
    )
    shot(page, "task-failed")


# -- cards -----------------------------------------------------------------------------------


def test_a_card_renders_inline_in_a_sandboxed_frame(
    ui: UiServer, store: Store, card_run: str, page: Any
) -> None:
    page.goto(ui.url(f"/flows/UiChartCardFlow/runs/{card_run}"))
    open_task(page, "start")
    frame_element = page.locator("iframe[data-testid=card-frame]").first
    expect(frame_element).to_be_visible()
    assert frame_element.get_attribute("sandbox") == "allow-scripts"
    src = frame_element.get_attribute("src") or ""
    assert re.match(rf"^/cards/UiChartCardFlow/{card_run}/start/[^/]+/[^/?]+", src), src

    card = page.frame_locator("iframe[data-testid=card-frame]").first
    expect(card.get_by_text("Quarterly sales report")).to_be_visible()
    expect(card.get_by_role("columnheader", name="sales_total")).to_be_visible()  # a preview
    expect_chart_drawn(card)
    # hostile artifact text is shown as text, never run
    expect(card.get_by_text("<script>parent.pwned", exact=False).first).to_be_visible()
    shot(page, "task-card")

    frame = frame_element.element_handle().content_frame()
    reach = "() => { try { return String(parent.document.title) } catch (e) { return e.name } }"
    assert frame.evaluate(reach) == "SecurityError"
    assert frame.evaluate("() => window.origin") == "null"  # an opaque origin
    assert frame.evaluate(NO_PWN)
    assert page.evaluate(NO_PWN)

    response = page.request.get(ui.url(src))
    assert response.status == 200
    assert "content-security-policy" in response.headers


def test_a_card_cannot_make_the_ui_preview_or_download(
    ui: UiServer, store: Store, card_run: str, page: Any
) -> None:
    """A card that navigates its own frame to the UI's other routes is refused
    (Sec-Fetch-Dest: iframe, from an opaque origin): the frame shows Chromium's
    error page, never the preview or the bytes; the page's own preview still works."""
    page.goto(ui.url(f"/flows/UiChartCardFlow/runs/{card_run}"))
    open_task(page, "start")
    parts = page.url.split("?")[0].split("/")
    step, task = parts[-3], parts[-1]
    page.locator("[data-testid=artifact-row][data-artifact=sales] button.preview").click()
    preview = page.locator("iframe[data-testid=preview-frame]")
    wait_for(
        lambda: "/preview/" in (preview.element_handle().content_frame().url or ""),
        "the page's own preview",
    )
    assert "sales_total" in preview.element_handle().content_frame().content()
    for route in ("preview", "download"):
        target = f"/{route}/UiChartCardFlow/{card_run}/{step}/{task}/sales"
        frame = page.locator("iframe[data-testid=card-frame]").first
        frame.element_handle().content_frame().evaluate(f"() => {{ location.href = {target!r}; }}")

        def moved(frame: Any = frame) -> bool:
            return "/cards/" not in frame.element_handle().content_frame().url

        wait_for(moved, f"the card's frame to leave for {route}")
        landed = frame.element_handle().content_frame()
        assert landed.url.startswith("chrome-error:"), landed.url
        assert "sales_total" not in landed.content()
        page.reload()


def test_a_card_file_renders_alone_with_the_network_off(
    ui: UiServer, card_run: str, browser: Any
) -> None:
    """The card served by the UI is one self-contained page: opened with every
    request but its own refused, its text and chart are there."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(GUARD_MS)
    try:
        tab = context.new_page()
        tab.goto(ui.url(f"/flows/UiChartCardFlow/runs/{card_run}"))
        open_task(tab, "start")
        src = tab.locator("iframe[data-testid=card-frame]").first.get_attribute("src")
        html = tab.request.get(ui.url(src)).text()
        offline = context.new_page()
        requests: list[str] = []
        offline.route("**/*", lambda route: (requests.append(route.request.url), route.abort()))
        offline.set_content(html)
        expect(offline.get_by_text("Quarterly sales report")).to_be_visible()
        expect_chart_drawn(offline)
        assert requests == [], f"the card asked the network for {requests}"
    finally:
        context.close()


def test_a_change_made_before_the_page_listens_is_shown(
    ui: UiServer, store: Store, page: Any, tmp_path: Path
) -> None:
    """The run ends between the moment its page is rendered and the moment the page's
    event stream starts (held back here): the page must still come to show the end."""
    gate = tmp_path / "gate"
    gate.mkdir()
    proc, id_file = start_run(
        store.runner, UI_FLOWS / "live.py", "--width", "1", env=store.env(UI_GATE=str(gate))
    )
    try:
        wait_for(lambda: (gate / "waiting-0").exists(), "the foreach task to wait")
        url = ui.url(f"/flows/UiLiveFlow/runs/{id_file.read_text().strip()}")
        wait_for(lambda: served_task_count(url) == 2, "the index to hold start and work")
        held: list[Any] = []

        def hold(route: Any) -> None:  # the page's stream waits
            held.append(route)

        page.route("**/api/stream*", hold)
        page.goto(url)
        count = page.locator("[data-testid=task-count]")
        expect(count).to_have_text(re.compile(r"^\s*2\s*$"))
        # (evaluate lets Playwright deliver the request to the handler meanwhile)
        wait_for(lambda: page.evaluate("() => true") and bool(held), "the page's stream")

        (gate / "go").write_text("")
        assert proc.wait(timeout=GUARD_SECONDS) == 0
        assert served_task_count(url) == 4
        for route in held:
            route.continue_()
        page.unroute("**/api/stream*")
        # the stream reads the index every second or so: 15 s is only a guard
        expect(count).to_have_text(re.compile(r"^\s*4\s*$"), timeout=15_000)
    finally:
        (gate / "go").write_text("")
        kill_quietly(proc)


def test_a_running_task_s_card_refreshes_in_its_frame(
    ui: UiServer, store: Store, page: Any, tmp_path: Path
) -> None:
    """current.card.refresh() while the task runs: the card's frame on the open task
    page shows the new content, without reloading the page."""
    gate = tmp_path / "gate"
    gate.mkdir()
    proc, id_file = start_run(
        store.runner, UI_FLOWS / "live_card.py", env=store.env(UI_GATE=str(gate))
    )
    try:
        wait_for(lambda: (gate / "waiting-go").exists(), "the card's first refresh")
        run_id = id_file.read_text().strip()
        page.goto(ui.url(f"/flows/UiLiveCardFlow/runs/{run_id}"))
        open_task(page, "start")
        card = page.frame_locator("iframe[data-testid=card-frame]").first
        expect(card.get_by_text("stage one")).to_be_visible()
        page.evaluate("() => { window.__notReloaded = true }")
        shot(page, "task-card-live")

        (gate / "go").write_text("")
        expect(card.get_by_text("stage two")).to_be_visible()
        assert page.evaluate("() => window.__notReloaded === true"), "the task page was reloaded"
        (gate / "done").write_text("")
        assert proc.wait(timeout=GUARD_SECONDS) == 0
        expect(card.get_by_text("stage two")).to_be_visible()  # the final card
    finally:
        for name in ("go", "done"):
            (gate / name).write_text("")
        kill_quietly(proc)


# -- hostile text ----------------------------------------------------------------------------


def test_hostile_tags_and_parameters_are_shown_as_text(
    ui: UiServer, store: Store, page: Any
) -> None:
    page.goto(ui.url("/flows/UiShapesFlow"))
    row = page.locator(f"tr[data-testid=run-row][data-run='{store.hostile}']")
    expect(row).to_contain_text(HOSTILE)
    assert page.evaluate(NO_PWN)
    assert page.locator("img[src=x]").count() == 0

    page.goto(ui.url(f"/flows/UiShapesFlow/runs/{store.hostile}"))
    expect(page.locator("[data-testid=tags]")).to_contain_text(HOSTILE)
    expect(page.locator("[data-testid=parameters]")).to_contain_text(HOSTILE)
    assert page.locator("img[src=x]").count() == 0
    page.wait_for_load_state("networkidle")
    assert page.evaluate(NO_PWN)
    shot(page, "run-hostile")


# -- live updates ----------------------------------------------------------------------------


def test_a_running_flow_appears_and_updates_without_a_reload(
    ui: UiServer, store: Store, page: Any, tmp_path: Path
) -> None:
    """A run started in another terminal shows up on its flow's runs page, its run
    page counts new tasks as they start and a running task's page shows its log
    as it grows, all without reloading the page."""
    gate = tmp_path / "gate"
    gate.mkdir()
    page.goto(ui.url("/flows/UiLiveFlow"))
    expect(page.locator(f"tr[data-testid=run-row][data-run='{store.live_first}']")).to_be_visible()
    page.evaluate("() => { window.__notReloaded = true }")

    proc, id_file = start_run(
        store.runner, UI_FLOWS / "live.py", "--width", "3", env=store.env(UI_GATE=str(gate))
    )
    try:
        wait_for(lambda: id_file.exists() and bool(id_file.read_text().strip()), "the run's id")
        run_id = id_file.read_text().strip()
        row = page.locator(f"tr[data-testid=run-row][data-run='{run_id}']")
        expect(row).to_be_visible()  # pushed to the page: no reload
        assert page.evaluate("() => window.__notReloaded === true"), "the runs page was reloaded"
        shot(page, "runs-live")

        # every foreach task is running (waiting for the gate) and indexed: the run
        # page counts start and the three of them; opening the gate adds join and end
        wait_for(lambda: len(list(gate.glob("waiting-*"))) == 3, "the foreach tasks to wait")
        wait_for(
            lambda: served_task_count(ui.url(f"/flows/UiLiveFlow/runs/{run_id}")) == 4,
            "the index to hold the run's first 4 tasks",
        )
        with page.expect_response(lambda r: "/api/stream" in r.url and "page=run" in r.url):
            row.locator(f"a[href*='/runs/{run_id}']").first.click()  # and the page listens
        page.wait_for_url(re.compile(rf"/runs/{run_id}(\?.*)?$"))
        count = page.locator("[data-testid=task-count]")
        expect(count).to_have_text(re.compile(r"^\s*4\s*$"))
        before = 4
        page.evaluate("() => { window.__notReloaded = true }")
        shot(page, "run-live")

        # a running task's log, on its own page in a second tab
        logs = page.context.new_page()
        logs.goto(page.url)
        open_task(logs, "work")
        stdout = logs.locator("[data-testid=log-stdout]")
        expect(stdout).to_contain_text("waits for the gate")
        logs.evaluate("() => { window.__notReloaded = true }")
        shot(logs, "task-live")

        (gate / "go").write_text("")
        try:
            page.wait_for_function(
                "n => Number(document.querySelector('[data-testid=task-count]')"
                ".textContent.trim()) === n",
                arg=before + 2,
                timeout=GUARD_MS,
            )
        except Exception as err:
            fresh = page.context.new_page()
            fresh.goto(page.url)
            raise AssertionError(
                f"the run page counted {before} tasks, then {count.inner_text()!r}, never "
                f"{before + 2}; a fresh load of the page counts "
                f"{fresh.locator('[data-testid=task-count]').inner_text()!r}; the run "
                f"{'ended ' + str(proc.poll()) if proc.poll() is not None else 'still runs'}"
            ) from err
        assert page.evaluate("() => window.__notReloaded === true"), "the run page was reloaded"
        expect(stdout).to_contain_text("passed the gate")  # streamed to the open page
        assert logs.evaluate("() => window.__notReloaded === true"), "the task page was reloaded"
        assert proc.wait(timeout=GUARD_SECONDS) == 0
        shot(page, "run-live-done")
        if os.environ.get("GRANGE_UPDATE_SCREENSHOT"):
            readme_screenshot(page)
    finally:
        (gate / "go").write_text("")
        kill_quietly(proc)
