"""``python flow.py run --ui``: print the run's page and open it in a browser.

The run command starts this module as a small process of its own (a thread
in the runtime's process would be copied into its forked workers), which

1. waits for the run's id (the ``--run-id-file`` the runtime writes once the
   run is claimed), and ends if the run command ends first;
2. asks ``GET /api/info`` of the UI at the profile's address (``[ui]`` host
   and port, 127.0.0.1:8323 by default), without the token, for the
   fingerprint of the store it serves; a server for another store is left
   alone (said, with the fix: another port); if none answers, starts ``grange ui``
   for the same store in the background (it keeps serving after the run; its
   pid and log file are printed: stop it with ``kill PID``); this process then
   stays until the run command ends, so that the UI outlives the run;
3. prints the run's address on stderr and opens it with :mod:`webbrowser`
   (the token, if one is set, is passed once in the address and then kept
   by the browser as a cookie).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import webbrowser
from pathlib import Path

WAIT_FOR_UI = 15.0  # seconds a UI started here has to answer


def start(
    *,
    flow: str,
    run_id_file: str | None,
    url: str,
    store_args: list[str],
    fingerprint: str,
    env: dict[str, str] | None = None,
) -> str:
    """Start the opener process; returns the run-id file the run must write."""
    if run_id_file is None:
        fd, run_id_file = tempfile.mkstemp(prefix="grange-run-id-")
        os.close(fd)
        os.unlink(run_id_file)
        cleanup = ["--cleanup"]
    else:
        cleanup = []
    command = [
        sys.executable,
        "-m",
        "grange.ui.opener",
        "--run-id-file",
        run_id_file,
        "--flow",
        flow,
        "--url",
        url,
        "--parent",
        str(os.getpid()),
        "--fingerprint",
        fingerprint,
        *cleanup,
        "--",
        *store_args,
    ]
    subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    return run_id_file


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _serves(url: str) -> str | None:
    """The fingerprint of the store the UI at ``url`` serves ("" for a server that
    answers but is no grange ui of this version), None if nothing answers. Asked
    without the token: it goes only to a server that proved it serves our store."""
    import json

    try:
        with urllib.request.urlopen(url + "/api/info", timeout=1.0) as answer:
            body = json.loads(answer.read(65536) or b"{}")
    except (OSError, ValueError):
        return None
    found = body.get("fingerprint") if isinstance(body, dict) else None
    return found if isinstance(found, str) else ""


def _start_ui(url: str, store_args: list[str], fingerprint: str) -> str | None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    log = Path(tempfile.gettempdir()) / f"grange-ui-{parts.port}.log"
    command = [
        sys.executable,
        "-c",
        "from grange.cli.main import main; main()",
        "ui",
        "--host",
        parts.hostname or "127.0.0.1",
        "--port",
        str(parts.port or 80),
        *store_args,
    ]
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    deadline = time.monotonic() + WAIT_FOR_UI
    while time.monotonic() < deadline and process.poll() is None:
        if _serves(url) == fingerprint:
            return f"started grange ui in the background (pid {process.pid}, log {log}; stop it with kill {process.pid})"
        time.sleep(0.2)
    return None if process.poll() is None else f"grange ui could not start: see {log}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="grange.ui.opener")
    parser.add_argument("--run-id-file", required=True)
    parser.add_argument("--flow", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--cleanup", action="store_true")
    parser.add_argument("--fingerprint", required=True)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("store_args", nargs="*")
    args = parser.parse_args(argv)
    target = Path(args.run_id_file)
    run_id = ""
    while not run_id:
        if target.is_file():
            run_id = target.read_text().strip()
        if not run_id:
            if not _alive(args.parent):
                return 0
            time.sleep(0.1)
    if args.cleanup:
        target.unlink(missing_ok=True)
    token = os.environ.get("GRANGE_UI_TOKEN")
    base = args.url.rstrip("/")
    started = False
    serving = _serves(base)
    if serving is None:
        said = _start_ui(base, args.store_args, args.fingerprint)
        if said:
            print(f"grange: {said}", file=sys.stderr, flush=True)
            started = said.startswith("started")
    elif serving != args.fingerprint:
        print(
            f"grange: the server at {base} is not a grange ui of this run's store, so the "
            "run's page is not opened there (and no token is sent to it); choose another "
            "port for this store's UI: GRANGE_UI_PORT=PORT or [ui] port in the profile",
            file=sys.stderr,
            flush=True,
        )
        return 0
    page = f"{base}/flows/{args.flow}/runs/{run_id}"
    print(f"grange: the run's page: {page}", file=sys.stderr, flush=True)
    if not args.no_browser and not os.environ.get("GRANGE_UI_NO_BROWSER"):
        webbrowser.open(page + (f"?token={token}" if token else ""))
    if started:
        _outlive(args.parent)
    return 0


def _outlive(parent: int) -> None:
    """Stay until the run command ends: the runtime is the subreaper of what it
    started (grange.runtime.processes), so a UI orphaned while it runs would be
    adopted and ended with the run's leftovers. Once the run command is gone, this
    process ends and the UI, in its own session, is adopted by init and keeps
    serving. Our stderr is closed first: the run command's caller sees its end."""
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    while os.getppid() == parent:
        time.sleep(0.2)


if __name__ == "__main__":
    raise SystemExit(main())
