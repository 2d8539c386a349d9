"""Cards in grange ui: sandboxed frames with their CSP, refreshed live while the task runs."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import grange
from flow_runs import clean_env, run_flow
from ui_support import UI_FLOWS, browser, sse_events, stores_at, ui_server

pytestmark = pytest.mark.skipif(not hasattr(grange, "card"), reason="@card is not there yet")
FLOW = UI_FLOWS / "card_flow.py"


def test_cards_are_framed_sandboxed_and_refresh_live(tmp_path: Path) -> None:
    root = tmp_path / ".grange"
    release, finish = tmp_path / "release", tmp_path / "finish"
    env = clean_env(
        GRANGE_DATASTORE_ROOT=str(root), GRANGE_USER="ada",
        UI_RELEASE=str(release), UI_FINISH=str(finish),
    )  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, str(FLOW), "run"], cwd=FLOW.parent, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        with ui_server(stores_at(root), sync_every=0.0) as ui, browser(ui) as client:
            task = "/flows/UiCardFlow/runs/1/steps/start/tasks/1"
            while "-blank-live" not in (page := client.get(task)).text:
                time.sleep(0.1)  # the task has not stored its live card yet
            frames = re.findall(r"<iframe[^>]*data-testid=\"card-frame\"[^>]*>", page.text)
            live = next(f for f in frames if "-blank-live" in f)
            assert 'sandbox="allow-scripts"' in live
            src = re.search(r'src="([^"]+)"', live).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
            assert re.fullmatch(r"/cards/UiCardFlow/1/start/1/\d+-blank-live\?attempt=0", src)
            slot = src.split("/")[-1].split("?")[0]
            first = client.get(src)
            assert "step one" in first.text and "<script>alert('card')" not in first.text
            stream = "/api/stream?page=task&flow=UiCardFlow&run=1&step=start&task=1"
            for event in sse_events(client, stream, "card", on_open=release.touch):
                assert event["slot"] == slot
                break
            assert "step two" in client.get(src).text
            finish.touch()
            out, _ = process.communicate()
            assert process.returncode == 0, out
            final = client.get(src)
            assert final.status_code == 200 and "step two" in final.text
            csp = final.headers["content-security-policy"]
            assert csp.startswith("sandbox allow-scripts;") and "default-src 'none'" in csp
            assert final.headers["x-content-type-options"] == "nosniff"
            frames = re.findall(
                r"<iframe[^>]*data-testid=\"card-frame\"[^>]*>", client.get(task).text
            )
            default = next(f for f in frames if "-default" in f)
            default_src = re.search(r'src="([^"]+)"', default).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
            assert "<script>alert('artifact')" not in client.get(default_src).text
    finally:
        release.touch()
        finish.touch()
        if process.returncode is None:
            process.communicate()


def test_a_card_opens_on_its_own_with_its_sandbox(tmp_path: Path) -> None:

    root = tmp_path / ".grange"
    run_flow(UI_FLOWS / "cards.py", root=root, user="ada")
    with ui_server(stores_at(root)) as ui, browser(ui) as client:
        page = client.get("/flows/UiChartCardFlow/runs/1/steps/start/tasks/1").text
        alone = re.search(r'data-testid="card-alone" href="([^"]+)"', page)
        assert alone is not None
        card = client.get(alone.group(1).replace("&amp;", "&"))
        assert card.status_code == 200
        assert card.headers["content-security-policy"].startswith("sandbox allow-scripts;")
