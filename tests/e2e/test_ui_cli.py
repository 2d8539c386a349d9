"""``grange ui`` and ``python flow.py run --ui`` as a user types them."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from flow_runs import clean_env, python, run_flow
from support import FLOWS

GRANGE = "import sys; from grange.cli.main import main; sys.argv[0] = 'grange'; main()"
FLOW = FLOWS / "run" / "linear.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_off_loopback_without_a_token_is_refused(tmp_path: Path) -> None:
    done = python("-c", GRANGE, "ui", "--host", "0.0.0.0", cwd=tmp_path,
                  env=clean_env(HOME=str(tmp_path)), check=False)  # fmt: skip
    assert done.returncode == 2
    assert "will not listen on 0.0.0.0 without a token" in done.stderr
    assert "--token generate" in done.stderr and "Traceback" not in done.stderr


def test_serves_with_a_generated_token_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    root = tmp_path / ".grange"
    run_id = run_flow(FLOW, root=root, user="ada")
    env = clean_env(HOME=str(tmp_path), GRANGE_DATASTORE_ROOT=str(root))
    server = subprocess.Popen(
        [sys.executable, "-c", GRANGE, "ui", "--port", "0", "--token", "generate"],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stderr is not None
        lines = []
        while not lines or "Ctrl-C" not in lines[-1]:
            lines.append(server.stderr.readline())
            assert lines[-1], "".join(lines)
        address = re.search(r"(http://127\.0\.0\.1:\d+/)\?token=(\S+)", lines[-1])
        assert address is not None, lines
        url, token = address.groups()
        assert f"a new token was made for this server: {token}" in "".join(lines)
        assert httpx.get(url).status_code == 401
        page = httpx.get(
            f"{url}flows/LinearRunFlow/runs/{run_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert page.status_code == 200 and 'data-testid="dag"' in page.text
        server.send_signal(signal.SIGINT)
        assert server.wait() == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        if server.stderr is not None:
            server.stderr.close()


def test_run_ui_prints_the_run_page_and_starts_a_ui(tmp_path: Path) -> None:
    root = tmp_path / ".grange"
    port = free_port()
    env = clean_env(
        HOME=str(tmp_path), GRANGE_DATASTORE_ROOT=str(root), GRANGE_USER="ada",
        GRANGE_UI_PORT=str(port), GRANGE_UI_NO_BROWSER="1",
    )  # fmt: skip
    done = python(FLOW, "run", "--ui", cwd=FLOW.parent, env=env)
    page = f"http://127.0.0.1:{port}/flows/LinearRunFlow/runs/1"
    assert f"the run's page: {page}" in done.stderr, done.stderr
    started = re.search(r"started grange ui in the background \(pid (\d+)", done.stderr)
    assert started is not None, done.stderr
    try:
        assert 'data-testid="run-status">succeeded' in httpx.get(page).text
    finally:
        os.kill(int(started.group(1)), signal.SIGTERM)


def test_the_ui_run_ui_started_outlives_the_run(tmp_path: Path) -> None:
    """The runtime adopts and ends orphans of what it started: the UI must not be one."""
    root = tmp_path / ".grange"
    port = free_port()
    release = tmp_path / "release"
    env = clean_env(
        HOME=str(tmp_path), GRANGE_DATASTORE_ROOT=str(root), GRANGE_USER="ada",
        GRANGE_UI_PORT=str(port), GRANGE_UI_NO_BROWSER="1", UI_RELEASE=str(release),
    )  # fmt: skip
    flow = FLOWS / "ui" / "waiting_flow.py"
    command = [sys.executable, str(flow), "run", "--ui"]
    run = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    assert run.stderr is not None
    lines: list[str] = []
    while "started grange ui" not in "".join(lines):  # the opener is gone from now on
        lines.append(run.stderr.readline())
        assert lines[-1], "".join(lines)
    pid = int(re.search(r"pid (\d+)", "".join(lines)).group(1))  # type: ignore[union-attr]
    try:
        release.touch()
        run.stderr.read()
        assert run.wait() == 0
        page = httpx.get(f"http://127.0.0.1:{port}/flows/UiWaitingFlow/runs/1")
        assert 'data-testid="run-status">succeeded' in page.text
    finally:
        run.stderr.close()
        os.kill(pid, signal.SIGTERM)


def test_run_ui_sends_nothing_to_a_server_of_another_store(tmp_path: Path) -> None:
    """A server on the port that does not prove it serves this store gets no token."""
    import http.server
    import threading

    seen: list[str] = []

    class Other(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization") or "")
            body = b'{"grange": "0", "fingerprint": "another store"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Other)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = clean_env(
            HOME=str(tmp_path), GRANGE_DATASTORE_ROOT=str(tmp_path / ".grange"),
            GRANGE_USER="ada", GRANGE_UI_PORT=str(server.server_address[1]),
            GRANGE_UI_NO_BROWSER="1", GRANGE_UI_TOKEN="a-token-long-enough-for-the-rule",
        )  # fmt: skip
        done = python(FLOW, "run", "--ui", cwd=FLOW.parent, env=env)
    finally:
        server.shutdown()
        server.server_close()
    assert "is not a grange ui of this run's store" in done.stderr, done.stderr
    assert "GRANGE_UI_PORT" in done.stderr and "started grange ui" not in done.stderr
    assert seen and not any(seen), seen
