"""Cards of real runs in headless Chromium with the network off: the default card of a
task, an error card (timed out), and a card shown in a notebook's sandboxed iframe.
Screenshots: test-artifacts/screenshots/cards-run-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser import BROWSER_SKIP, launch_chromium, screenshot_dir
from grange import Flow, default_metadata, default_namespace, metadata, namespace
from grange.cards import get_cards
from support import FLOWS, Runner

pytestmark = BROWSER_SKIP


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    runner = Runner(tmp_path_factory.mktemp("card-runs"))
    ids = {
        name: str(runner.run(FLOWS / "cards" / f"{name}.py").run_id)
        for name in ("card_default", "card_broken")
    }
    metadata(f"local@{runner.root}")
    namespace(None)
    yield ids
    default_namespace()
    default_metadata()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


def show(browser: Any, html: str, name: str) -> tuple[Any, list[str], list[str]]:
    """The page loaded offline; the requests it tried and the errors it raised."""
    context = browser.new_context(offline=True, viewport={"width": 1100, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    context.route("**/*", lambda route: (requests.append(route.request.url), route.abort()))
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_content(html, wait_until="load")
    page.screenshot(path=str(Path(screenshot_dir()) / f"cards-run-{name}.png"), full_page=True)
    return page, requests, errors


def test_a_default_card_of_a_run_renders_offline(browser: Any, runs: dict[str, str]) -> None:
    task = Flow("CardDefaultFlow")[runs["card_default"]]["start"].task
    page, requests, errors = show(browser, get_cards(task)[0].get(), "default")
    text = page.inner_text("body")
    assert "Oslo" in text and "Lima" in text and "float64" in text
    assert "<script>alert('x')</script>" in text  # shown as text, never run
    assert requests == [] and errors == []
    page.context.close()


def test_an_error_card_renders_offline(browser: Any, runs: dict[str, str]) -> None:
    task = Flow("CardBrokenFlow")[runs["card_broken"]]["start"].task
    page, requests, errors = show(browser, get_cards(task)[0].get(), "timeout")
    assert "timed out after 2 seconds" in page.inner_text("body")
    assert requests == [] and errors == []
    page.context.close()


def test_a_notebook_frame_shows_the_card_sandboxed(browser: Any, runs: dict[str, str]) -> None:
    task = Flow("CardDefaultFlow")[runs["card_default"]]["end"].task
    frame_html = get_cards(task)._repr_html_()
    page, requests, errors = show(browser, f"<html><body>{frame_html}</body></html>", "iframe")
    frame = page.frame_locator("iframe")
    assert "CardDefaultFlow" in frame.locator("body").inner_text()
    sandbox = page.get_attribute("iframe", "sandbox")
    assert sandbox == "allow-scripts"  # no allow-same-origin: the card cannot reach the notebook
    assert requests == [] and errors == []
    page.context.close()
