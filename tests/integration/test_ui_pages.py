"""grange ui over a store with real runs: what each page shows, escaped, and the data routes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from markupsafe import escape

from flow_runs import run_flow
from grange.client.config import Stores
from ui_support import UI_FLOWS, browser, stores_at, ui_server

HOSTILE = "<script>alert('xss')</script>"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    root = tmp_path_factory.mktemp("ui") / ".grange"
    flow = UI_FLOWS / "hostile_flow.py"
    runs = {
        "ok": run_flow(flow, "--tag", HOSTILE, root=root, user="ada"),
        "failed": run_flow(flow, root=root, user="bob", expect_failure=True, UI_FAIL="1"),
    }
    runs["resumed"] = run_flow(
        flow, "--origin-run-id", runs["failed"], root=root, user="bob", command="resume"
    )
    yield root, runs


@pytest.fixture(scope="module")
def stores(store: tuple[Path, dict[str, str]]) -> Stores:
    return stores_at(store[0])


def test_flows_page_lists_each_flow_with_its_last_run(stores: Stores) -> None:
    with ui_server(stores) as ui, browser(ui) as client:
        page = client.get("/").text
    assert 'data-testid="flow-row" data-flow="UiHostileFlow"' in page
    row = page[page.index('data-flow="UiHostileFlow"') :].split("</tr>")[0]
    assert ">3</td>" in row  # three runs
    assert "status-succeeded" in row


def test_runs_page_shows_statuses_users_tags_and_escaped_values(
    stores: Stores, store: tuple[Path, dict[str, str]]
) -> None:
    runs = store[1]
    with ui_server(stores) as ui, browser(ui) as client:
        page = client.get("/flows/UiHostileFlow").text
        only_bob = client.get("/flows/UiHostileFlow", params={"user": "bob"}).text
        failed = client.get("/flows/UiHostileFlow", params={"status": "failed"}).text
        tagged = client.get("/flows/UiHostileFlow", params={"tag": HOSTILE}).text
        bad = client.get("/flows/UiHostileFlow", params={"status": "<b>"})
    ids = re.findall(r'data-testid="run-row" data-run="([^"]+)"', page)
    assert ids == [runs["resumed"], runs["failed"], runs["ok"]]
    assert HOSTILE not in page and str(escape(HOSTILE)) in page
    assert "<img src=x" not in page and "&lt;img src=x onerror" in page
    assert re.findall(r'data-run="([^"]+)"', only_bob) == [runs["resumed"], runs["failed"]]
    assert re.findall(r'data-run="([^"]+)"', failed) == [runs["failed"]]
    assert re.findall(r'data-run="([^"]+)"', tagged) == [runs["ok"]]
    assert bad.status_code == 400 and "<b>" not in bad.text


def test_run_page_has_dag_counts_timeline_parameters_tags_origin(
    stores: Stores, store: tuple[Path, dict[str, str]]
) -> None:
    runs = store[1]
    with ui_server(stores) as ui, browser(ui) as client:
        page = client.get(f"/flows/UiHostileFlow/runs/{runs['ok']}").text
        resumed = client.get(f"/flows/UiHostileFlow/runs/{runs['resumed']}").text
        missing = client.get("/flows/UiHostileFlow/runs/999")
    assert re.search(r'data-testid="task-count">(\d+)<', page).group(1) == "6"  # type: ignore[union-attr]
    nodes = set(re.findall(r'data-testid="dag-node" data-step="([^"]+)"', page))
    assert nodes == {"start", "work", "join", "end"}
    assert 'data-testid="timeline"' in page and "<rect" in page
    assert 'data-testid="parameters"' in page and "&lt;img src=x" in page
    tags = page[page.index('data-testid="tags"') :].split("</div>")[0]
    assert str(escape(HOSTILE)) in tags and HOSTILE not in page
    assert "user:ada" in tags
    assert 'data-testid="trigger"' in page
    origin = resumed[resumed.index('data-testid="origin-run"') :].split("</div>")[0]
    assert f'href="/flows/UiHostileFlow/runs/{runs["failed"]}"' in origin
    assert missing.status_code == 404 and "999" in missing.text


def test_task_page_has_attempts_log_tail_and_artifacts(
    stores: Stores, store: tuple[Path, dict[str, str]]
) -> None:
    run_id = store[1]["ok"]
    base = f"/flows/UiHostileFlow/runs/{run_id}/steps/start/tasks/"
    with ui_server(stores) as ui, browser(ui) as client:
        step = client.get(f"/flows/UiHostileFlow/runs/{run_id}/steps/start").text
        task_id = re.findall(r'data-testid="task-row" data-task="([^"]+)"', step)[0]
        page = client.get(base + task_id).text
        start = int(re.search(r'data-testid="log-stdout"[^>]*data-start="(\d+)"', page).group(1))  # type: ignore[union-attr]
        earlier = client.get(
            f"/api/logs/UiHostileFlow/{run_id}/start/{task_id}/stdout",
            params={"start": 0, "length": 1000},
        ).json()
    assert 'data-testid="attempts"' in page and 'data-attempt="0"' in page
    stdout = page[page.index('data-testid="log-stdout"') :].split("</pre>")[0]
    assert "the last line" in stdout and "line 00000" not in stdout  # the tail only
    assert start > 0 and 'data-more="stdout"' in page
    assert earlier["start"] == 0 and earlier["text"].startswith(HOSTILE)
    assert HOSTILE not in page
    artifacts = page[page.index('data-testid="artifacts"') :].split("</table>")[0]
    assert 'data-artifact="note"' in artifacts and 'data-artifact="items"' in artifacts


def test_download_serves_the_stored_bytes_and_preview_is_sandboxed(
    stores: Stores, store: tuple[Path, dict[str, str]]
) -> None:
    from grange.client import Task

    run_id = store[1]["ok"]
    task = next(
        iter(
            __import__("grange.ui.views", fromlist=["run"]).run(stores, "UiHostileFlow", run_id)[
                "start"
            ]
        )
    )
    assert isinstance(task, Task)
    row = task._artifact_rows()["note"]
    blob = stores.blobs.get_bytes(stores.cas("UiHostileFlow").blob_key(row.key))
    path = f"UiHostileFlow/{run_id}/start/{task.id}/note"
    with ui_server(stores) as ui, browser(ui) as client:
        got = client.get(f"/download/{path}")
        shown = client.get(f"/preview/{path}")
        nothing = client.get(f"/download/UiHostileFlow/{run_id}/start/{task.id}/nope")
    assert got.status_code == 200 and got.content == blob
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert shown.status_code == 200 and HOSTILE not in shown.text
    assert "sandbox allow-scripts" in shown.headers["content-security-policy"]
    assert shown.headers["x-content-type-options"] == "nosniff"
    assert nothing.status_code == 404


def test_the_dag_comes_from_the_recorded_graph_else_from_the_steps_that_ran(
    stores: Stores, store: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from grange.client.run import Run

    run = f"/flows/UiHostileFlow/runs/{store[1]['ok']}"
    graph = {
        "flow": "UiHostileFlow",
        "start": "start",
        "end": "end",
        "steps": {
            "start": {"name": "start", "type": "foreach", "next": ["work"], "foreach_var": "items"},
            "work": {"name": "work", "type": "linear", "next": ["join"]},
            "join": {"name": "join", "type": "join", "next": ["end"]},
            "end": {"name": "end", "type": "end", "next": []},
            "never": {"name": "never", "type": "linear", "next": []},
        },
    }
    with ui_server(stores) as ui, browser(ui) as client:
        monkeypatch.setattr(Run, "graph", property(lambda self: graph), raising=False)
        recorded = client.get(run).text
        monkeypatch.setattr(Run, "graph", property(lambda self: None), raising=False)
        older = client.get(run).text
    nodes = dict(re.findall(r'data-step="([^"]+)"[^>]*data-status="([^"]+)"', recorded))
    # a step without tasks in a finished run (a switch branch not taken) was never run
    assert nodes == {"start": "ok", "work": "ok", "join": "ok", "end": "ok", "never": "not run"}
    assert ">not run</text>" in recorded and ">0/0</text>" not in recorded
    assert 'data-testid="no-graph"' not in recorded and 'data-testid="no-graph"' in older
    assert set(re.findall(r'data-testid="dag-node" data-step="([^"]+)"', older)) == {
        "start",
        "work",
        "join",
        "end",
    }


def test_an_exception_message_is_text(stores: Stores, store: tuple[Path, dict[str, str]]) -> None:
    run = f"/flows/UiHostileFlow/runs/{store[1]['failed']}/steps/end"
    with ui_server(stores) as ui, browser(ui) as client:
        task_id = re.findall(r'data-task="([^"]+)"', client.get(run).text)[0]
        page = client.get(f"{run}/tasks/{task_id}").text
    assert "failed on purpose &lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold" not in page
    assert 'status-failed" data-testid="task-status"' in page


def test_the_timeline_draws_every_attempt_or_says_how_many_it_left_out(
    stores: Stores, store: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from grange.ui import timeline

    run = f"/flows/UiHostileFlow/runs/{store[1]['ok']}"
    with ui_server(stores) as ui, browser(ui) as client:
        whole = client.get(run).text
        monkeypatch.setattr(timeline, "MAX_BARS", 2)
        capped = client.get(run).text
    bars = whole[whole.index('data-testid="timeline"') :].split("</svg>")[0]
    assert bars.count("<rect") == 4 + 6  # a bar per step, and per attempt
    assert "drawn one by one" not in whole
    assert "the first 2 of 6 attempts are drawn one by one" in capped
