"""Pages over many runs read one page: 10,000 runs' index rows, filters, counts, offsets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grange.client import listing
from grange.metastore import MetadataStore
from ui_support import FLOW, RUNS, browser, fill, stores_at, ui_server


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("big") / ".grange"
    root.mkdir()
    fill(MetadataStore.at_root(root), RUNS)
    return root


def test_a_page_of_ten_thousand_runs_is_the_right_page(root: Path) -> None:
    with ui_server(stores_at(root)) as ui, browser(ui) as client:
        page = client.get(f"/flows/{FLOW}", params={"page": 3, "per_page": 50}).text
        last = client.get(f"/flows/{FLOW}", params={"page": 200, "per_page": 50}).text
        bob = client.get(f"/flows/{FLOW}", params={"user": "bob", "page": 2, "per_page": 10}).text
        tenth = client.get(f"/flows/{FLOW}", params={"tag": "tenth", "status": "failed"}).text
        flows = client.get("/").text
    ids = re.findall(r'data-testid="run-row" data-run="(\d+)"', page)
    assert ids == [str(n) for n in range(RUNS - 100, RUNS - 150, -1)]
    assert "10000 runs · page 3 of 200" in page
    assert re.findall(r'data-run="(\d+)"', last) == [str(n) for n in range(50, 0, -1)]
    bobs = [n for n in range(RUNS, 0, -1) if n % 7 == 0]
    assert re.findall(r'data-run="(\d+)"', bob) == [str(n) for n in bobs[10:20]]
    failed_tenth = [str(n) for n in range(RUNS, 0, -1) if n % 70 == 0][:50]
    assert re.findall(r'data-run="(\d+)"', tenth) == failed_tenth
    row = flows[flows.index(f'data-flow="{FLOW}"') :].split("</tr>")[0]
    assert f">{RUNS}</td>" in row and f"/runs/{RUNS}" in row


def test_status_filters_that_the_index_cannot_decide_are_paged_too(root: Path) -> None:
    stores = stores_at(root)
    # running/crashed: decided row by row over the runs stored as running (none here)
    assert listing.runs_page(stores, FLOW, status="running").total == 0
    page = listing.runs_page(stores, FLOW, status="failed", limit=5, offset=5)
    assert page.total == RUNS // 7
    assert [r.run_id for r in page.rows] == [str(n) for n in range(RUNS, 0, -1) if n % 7 == 0][5:10]


def test_crashed_runs_are_shown_and_filtered_as_crashed(tmp_path: Path) -> None:
    import time

    from grange.metastore.runs import INSERTED_COLUMNS

    root = tmp_path / ".grange"
    root.mkdir()
    store = MetadataStore.at_root(root)
    now = time.time()
    rows = [  # stored as running: the first two last heard of long ago, the third just now
        (
            "Gone",
            str(n),
            n,
            "ada",
            "running",
            now - 9999,
            now - 9999,
            None,
            seen,
            None,
            "local",
            "{}",
        )
        for n, seen in ((1, now - 9999), (2, now - 9000), (3, now))
    ]
    with store._write() as c:
        c.execute("INSERT INTO flows (name, created_at) VALUES (?, ?)", ("Gone", now))
        c.executemany(f"INSERT INTO runs ({INSERTED_COLUMNS}) VALUES ({', '.join('?' * 12)})", rows)
    with ui_server(stores_at(root)) as ui, browser(ui) as client:
        crashed = client.get("/flows/Gone", params={"status": "crashed", "per_page": 1}).text
        running = client.get("/flows/Gone", params={"status": "running"}).text
        every = client.get("/flows/Gone").text
    assert re.findall(r'data-run="(\d+)"', crashed) == ["2"] and "page 1 of 2" in crashed
    assert re.findall(r'data-run="(\d+)"', running) == ["3"]
    statuses = re.findall(r'status-(\w+)" data-testid="run-status"', every)
    assert statuses == ["running", "crashed", "crashed"]
