"""grange ui live: a run started elsewhere appears, its counts move, its logs stream, streams end."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from flow_runs import clean_env, run_flow
from grange.ui.live import whole_characters
from ui_support import UI_FLOWS, browser, sse_events, stores_at, ui_server

FLOW = UI_FLOWS / "waiting_flow.py"


def _start(root: Path, release: Path) -> subprocess.Popen[str]:
    env = clean_env(GRANGE_DATASTORE_ROOT=str(root), GRANGE_USER="ada", UI_RELEASE=str(release))
    return subprocess.Popen(
        [sys.executable, str(FLOW), "run"], cwd=FLOW.parent, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def test_a_run_started_elsewhere_shows_up_and_updates_live(tmp_path: Path) -> None:
    root = tmp_path / ".grange"
    release = tmp_path / "release"
    release.touch()
    first = run_flow(FLOW, root=root, user="ada", UI_RELEASE=str(release))
    release.unlink()
    stores = stores_at(root)
    started: list[subprocess.Popen[str]] = []
    try:
        with ui_server(stores, sync_every=0.0) as ui, browser(ui) as client:
            stream = "/api/stream?page=runs&flow=UiWaitingFlow"
            changed = sse_events(
                client, stream, "changed", on_open=lambda: started.append(_start(root, release))
            )
            next(changed)  # the new run, seen without reloading
            changed.close()
            page = client.get("/flows/UiWaitingFlow").text
            ids = re.findall(r'data-testid="run-row" data-run="([^"]+)"', page)
            assert ids[1:] == [first] and len(ids) == 2
            run_id = ids[0]
            run_page = f"/flows/UiWaitingFlow/runs/{run_id}"

            def count() -> int:
                text = client.get(run_page).text
                return int(re.search(r'data-testid="task-count">(\d+)<', text).group(1))  # type: ignore[union-attr]

            counts = []
            for _ in sse_events(
                client, f"/api/stream?page=run&flow=UiWaitingFlow&run={run_id}", "changed"
            ):
                counts.append(count())
                if counts[-1] >= 5:  # start and the four work tasks: item 0 ends, the rest wait
                    break
            assert counts[-1] == 5
            release.touch()
            for _ in sse_events(
                client, f"/api/stream?page=run&flow=UiWaitingFlow&run={run_id}", "changed"
            ):
                if "status-succeeded" in client.get(run_page).text.split('data-live="dag"')[0]:
                    break
            assert count() == 7
    finally:
        for process in started:
            out, _ = process.communicate()
            assert process.returncode == 0, out


def test_logs_stream_while_a_task_runs_and_streams_end_with_the_server(tmp_path: Path) -> None:
    root = tmp_path / ".grange"
    release = tmp_path / "release"
    process = _start(root, release)
    try:
        stores = stores_at(root)
        with ui_server(stores, sync_every=0.0) as ui, browser(ui) as client:
            task = None
            while task is None:  # the runtime registers the work tasks, then starts them
                found = client.get("/api/flows").json()["flows"]
                if found:
                    page = client.get("/flows/UiWaitingFlow/runs/1/steps/work")
                    rows = re.findall(
                        r'data-task="([^"]+)"[^<]*<td><a[^>]*>[^<]*</a></td><td><span class="status status-running"',
                        page.text,
                    )
                    task = rows[-1] if page.status_code == 200 and len(rows) >= 3 else None
                if task is None:
                    threading.Event().wait(0.1)
            base = f"/api/stream?page=task&flow=UiWaitingFlow&run=1&step=work&task={task}"
            text = ""
            logs = sse_events(client, base, "log", on_open=release.touch)
            for event in logs:
                assert event["stream"] == "stdout"
                text += event["text"]
                if "released" in text:
                    break
            logs.close()
            assert "waiting" in text and "released" in text
            ended: list[str] = []

            def hold() -> None:
                with httpx.stream("GET", ui.url + "api/stream?page=flows", timeout=30) as s:
                    ended.extend(s.iter_lines())

            holder = threading.Thread(target=hold)
            holder.start()
            while not ended:  # the stream is open (its first line arrived)
                threading.Event().wait(0.05)
        holder.join()  # the server stopped: the open stream ended with it
        assert any(line.startswith("event: end") for line in ended)
    finally:
        release.touch()
        process.communicate()


def test_whole_characters_keeps_a_cut_character_for_later() -> None:
    text = "café ☕ done".encode()
    for cut in range(len(text) + 1):
        head = whole_characters(text[:cut])
        assert text.startswith(head)
        head.decode("utf-8")  # never a cut character
        assert cut - len(head) < 4


def test_a_stream_ends_when_its_page_goes_away(tmp_path: Path) -> None:
    root = tmp_path / ".grange"
    release = tmp_path / "release"
    release.touch()
    run_flow(FLOW, root=root, user="ada", UI_RELEASE=str(release))
    with ui_server(stores_at(root)) as ui, browser(ui) as client:
        for _ in range(3):
            with client.stream("GET", "/api/stream?page=run&flow=UiWaitingFlow&run=1") as s:
                first = next(s.iter_lines())  # open, first read made
                assert s.status_code == 200 and first.startswith("retry:"), first
        while ui.state.streams:  # each ends at its next tick once its client has gone
            threading.Event().wait(0.05)
        assert client.get("/api/info").json()["streams"] == 0


def test_a_retry_streams_its_own_logs_from_its_first_byte(tmp_path: Path) -> None:
    root = tmp_path / ".grange"
    release = tmp_path / "release"
    flow = UI_FLOWS / "retry_flow.py"
    env = clean_env(GRANGE_DATASTORE_ROOT=str(root), GRANGE_USER="ada", UI_RELEASE=str(release))
    run = subprocess.Popen(
        [sys.executable, str(flow), "run"], cwd=flow.parent, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        waiting = Path(str(release) + ".waiting")
        while not waiting.exists():
            assert run.poll() is None, run.stdout.read() if run.stdout else ""
            threading.Event().wait(0.05)
        with ui_server(stores_at(root), sync_every=0.0) as ui, browser(ui) as client:
            task = "flow=UiRetryFlow&run=1&step=start&task=1"
            # a page that shows attempt 0, with 200 bytes of its stdout
            stream = f"/api/stream?page=task&{task}&shown=0&stdout=200&stderr=0"
            while "start" not in client.get("/api/flows/UiRetryFlow/runs/1").json()["steps"]:
                threading.Event().wait(0.05)  # the task, in the index
            events = sse_events(client, stream, "changed")
            assert next(events) == {"digest": "", "attempt": 1, "logs": True}
            events.close()
            page = client.get("/flows/UiRetryFlow/runs/1/steps/start/tasks/1").text
            assert "attempt 1 says hello" in page and "\x1b" not in page and "[31m" not in page
            stream = f"/api/stream?page=task&{task}&shown=1&stdout=0&stderr=0"
            logs = sse_events(client, stream, "log", on_open=release.touch)
            text = ""
            for event in logs:
                if event["stream"] == "stdout":
                    assert event["start"] == len(text.encode()) or text
                    text += event["text"]
                if "attempt 1 done" in text:
                    break
            logs.close()
            assert text.startswith("attempt 1 says hello\n") and "attempt 0" not in text
    finally:
        release.touch()
        run.wait()
        if run.stdout is not None:
            run.stdout.close()


def test_streams_of_nothing_are_404_and_say_cache_control_once(tmp_path: Path) -> None:
    root = tmp_path / ".grange"
    release = tmp_path / "release"
    release.touch()
    run_flow(FLOW, root=root, user="ada", UI_RELEASE=str(release))
    with ui_server(stores_at(root)) as ui, browser(ui) as client:
        missing = client.get("/api/stream?page=run&flow=UiWaitingFlow&run=999")
        assert missing.status_code == 404
        task = "flow=UiWaitingFlow&run=1&step=start&task=999"
        assert client.get(f"/api/stream?page=task&{task}").status_code == 404
        with client.stream("GET", "/api/stream?page=run&flow=UiWaitingFlow&run=1") as live:
            assert live.status_code == 200
            assert len(live.headers.get_list("cache-control")) == 1


def test_the_flows_stream_is_quiet_while_a_run_only_runs_longer(tmp_path: Path) -> None:
    """Durations tick every second: they are not a change."""
    from grange.ui import live, views
    from grange.ui.app import UiState
    from grange.ui.settings import UiSettings

    root = tmp_path / ".grange"
    release = tmp_path / "release"
    started = _start(root, release)
    try:
        state = UiState(stores_at(root), UiSettings())

        def running() -> bool:
            from grange.client.sync import forget_synced

            forget_synced(state.stores)
            flows = views.flows_page(state.stores, None)["flows"]
            return bool(flows) and flows[0]["last"]["status"] == "running"

        while not running():
            threading.Event().wait(0.1)
        poll = live._poller(state, {"page": "flows"})
        before, shown = poll.digest(), views.flows_page(state.stores, None)
        threading.Event().wait(1.2)
        assert views.flows_page(state.stores, None) != shown  # the duration ticked
        assert poll.digest() == before
    finally:
        release.touch()
        started.wait()
        if started.stdout is not None:
            started.stdout.close()
