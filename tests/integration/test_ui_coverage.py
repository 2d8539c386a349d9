"""grange ui over real runs: the namespace filter, triggers, typed previews, retried attempts,
and the card CLI on a resumed run."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from flow_runs import clean_env, python, run_flow
from grange.client.config import Stores
from support import FLOWS
from ui_support import browser, stores_at, ui_server

UICOV = FLOWS / "uicov"
PAYLOAD = "<b>x</b>"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    root = tmp_path_factory.mktemp("uicov") / ".grange"
    tiny = UICOV / "tiny.py"
    runs = {
        "ua": run_flow(tiny, root=root, user="ua"),
        "ub": run_flow(tiny, root=root, user="ub"),
        "event": run_flow(
            tiny,
            "--trigger-event",
            "new_data",
            "--trigger-payload",
            f"date={PAYLOAD}",
            root=root,
            user="ua",
        ),
    }
    runs["by_run"] = run_flow(tiny, "--trigger", f"UiTinyFlow/{runs['ua']}", root=root, user="ua")
    runs["previews"] = run_flow(UICOV / "previews.py", root=root, user="ua")
    runs["retry"] = run_flow(UICOV / "retrying.py", root=root, user="ua")
    yield root, runs


@pytest.fixture(scope="module")
def stores(store: tuple[Path, dict[str, str]]) -> Stores:
    return stores_at(store[0])


def _run_ids(page: str) -> list[str]:
    return re.findall(r'data-testid="run-row" data-run="([^"]+)"', page)


def _block(page: str, testid: str) -> str:
    """The element with ``data-testid=testid``, up to its closing ``</div>``."""
    return page[page.index(f'data-testid="{testid}"') :].split("</div>")[0]


def test_runs_page_namespace_filter(stores: Stores, store: tuple[Path, dict[str, str]]) -> None:
    runs = store[1]
    with ui_server(stores) as ui, browser(ui) as client:
        everyone = client.get("/flows/UiTinyFlow").text
        ua = client.get("/flows/UiTinyFlow", params={"namespace": "user:ua"})
        ub = client.get("/flows/UiTinyFlow", params={"namespace": "user:ub"})
        nobody = client.get("/flows/UiTinyFlow", params={"namespace": "user:nobody"})
    assert set(_run_ids(everyone)) == {runs["ua"], runs["ub"], runs["event"], runs["by_run"]}
    assert ua.status_code == 200 and ub.status_code == 200 and nobody.status_code == 200
    assert set(_run_ids(ua.text)) == {runs["ua"], runs["event"], runs["by_run"]}
    assert _run_ids(ub.text) == [runs["ub"]]
    assert _run_ids(nobody.text) == []


def test_run_page_shows_the_event_that_started_it_escaped(
    stores: Stores, store: tuple[Path, dict[str, str]]
) -> None:
    runs = store[1]
    with ui_server(stores) as ui, browser(ui) as client:
        by_event = client.get(f"/flows/UiTinyFlow/runs/{runs['event']}").text
        by_hand = client.get(f"/flows/UiTinyFlow/runs/{runs['ua']}").text
    trigger = _block(by_event, "trigger")
    assert "new_data" in trigger
    assert PAYLOAD not in by_event  # the payload is text, never markup
    assert html.escape(PAYLOAD, quote=False) in trigger
    assert "Started by hand" in _block(by_hand, "trigger")
    assert "new_data" not in _block(by_hand, "trigger")


def test_run_page_names_the_upstream_run_of_a_run_trigger(
    stores: Stores, store: tuple[Path, dict[str, str]]
) -> None:
    runs = store[1]
    with ui_server(stores) as ui, browser(ui) as client:
        page = client.get(f"/flows/UiTinyFlow/runs/{runs['by_run']}").text
    trigger = _block(page, "trigger")
    assert f"UiTinyFlow/{runs['ua']}" in trigger
    assert "Started by hand" not in trigger


def test_run_page_links_the_upstream_run_of_a_run_trigger(
    stores: Stores, store: tuple[Path, dict[str, str]]
) -> None:
    runs = store[1]
    with ui_server(stores) as ui, browser(ui) as client:
        page = client.get(f"/flows/UiTinyFlow/runs/{runs['by_run']}").text
    assert f'href="/flows/UiTinyFlow/runs/{runs["ua"]}"' in _block(page, "trigger")


def test_typed_previews_show_content(stores: Stores, store: tuple[Path, dict[str, str]]) -> None:
    run = store[1]["previews"]
    base = f"/preview/UiPreviewFlow/{run}/start/1"
    with ui_server(stores) as ui, browser(ui) as client:
        frame = client.get(f"{base}/frame", params={"attempt": 0})
        matrix = client.get(f"{base}/matrix", params={"attempt": 0})
        answer = client.get(f"{base}/answer", params={"attempt": 0})
    assert frame.status_code == matrix.status_code == answer.status_code == 200
    # the DataFrame: its shape, its columns, the values of its head (not all 300 rows)
    assert "300 rows \u00d7 2 columns" in frame.text
    assert "<th>city</th>" in frame.text and "<th>temp</th>" in frame.text
    assert "<td>Oslo</td>" in frame.text and "19.25" in frame.text
    assert frame.text.count("<td>Oslo</td>") < 100
    # the array: shape, dtype and statistics
    facts = dict(re.findall(r"<dt>(\w+)</dt><dd>([^<]*)</dd>", matrix.text))
    assert facts["shape"] == "3\u00d74" and facts["dtype"] == "float32"
    assert float(facts["min"]) == 0.0 and float(facts["max"]) == 11.0
    assert float(facts["mean"]) == 5.5
    # the scalar: its value
    assert "424242" in answer.text


def test_task_page_lists_each_attempt_of_a_retried_task(
    stores: Stores, store: tuple[Path, dict[str, str]]
) -> None:
    run = store[1]["retry"]
    task = f"/flows/UiRetryFlow/runs/{run}/steps/start/tasks/1"
    with ui_server(stores) as ui, browser(ui) as client:
        latest = client.get(task).text
        first = client.get(task, params={"attempt": 0}).text
    rows = dict(
        re.findall(r'data-testid="attempt-row" data-attempt="(\d+)"[^>]*>(.*?)</tr>', latest, re.S)
    )
    assert set(rows) == {"0", "1"}
    assert "status-failed" in rows["0"] and "attempt zero breaks on purpose" in rows["0"]
    assert "ValueError" in rows["0"]
    assert "status-ok" in rows["1"] and "ValueError" not in rows["1"]
    log = _block_pre(latest, "log-stdout")
    assert "log of attempt 1" in log and "log of attempt 0" not in log
    log0 = _block_pre(first, "log-stdout")
    assert "log of attempt 0" in log0 and "log of attempt 1" not in log0
    assert "attempt zero breaks on purpose" in _block_pre(first, "log-stderr")


def _block_pre(page: str, testid: str) -> str:
    return page[page.index(f'data-testid="{testid}"') :].split("</pre>")[0]


def test_card_cli_follows_a_resumed_task_to_its_origin(tmp_path: Path) -> None:
    root = tmp_path / ".grange"
    flow = UICOV / "card_resume.py"
    origin = run_flow(flow, root=root, user="ua", expect_failure=True, UICOV_FAIL="1")
    resumed = run_flow(flow, "--origin-run-id", origin, root=root, user="ua", command="resume")
    env = clean_env(GRANGE_DATASTORE_ROOT=str(root), GRANGE_USER="ua")

    def card(*args: str) -> tuple[int, str, str]:
        done = python(flow, "card", *args, cwd=flow.parent, env=env, check=False)
        return done.returncode, done.stdout, done.stderr

    code, out, err = card("list", f"{resumed}/start", "--follow-resumed")
    assert code == 0, err
    assert f"UiCardResumeFlow/{origin}/start/" in out
    code, out, err = card("get", f"{resumed}/start")  # following is the default
    assert code == 0 and "<html" in out.lower(), err

    for verb in ("list", "get"):
        code, out, err = card(verb, f"{resumed}/start", "--no-follow-resumed")
        assert code != 0
        # the step has @card: the message must not tell the user to add one
        assert "put @card" not in err and "@step" not in err, err
        assert "cloned" in err and f"UiCardResumeFlow/{origin}/start/" in err, err
        assert "--follow-resumed" in err
