"""Serving ``grange ui`` over a test's store, and talking to it as a browser or an attacker would."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from grange.client.config import Stores
from grange.datastore.location import DatastoreLocation
from grange.metastore import MetadataStore, sqlite_url
from grange.metastore.runs import INSERTED_COLUMNS
from grange.ui.serve import RunningUi, serve_in_thread
from grange.ui.settings import UiSettings
from support import FLOWS

UI_FLOWS = FLOWS / "ui"
RUNS = 10_000
FLOW = "BigFlow"


def stores_at(root: Path, url: str | None = None) -> Stores:
    """The stores of a datastore root (and its SQLite index, or ``url``)."""
    return Stores(DatastoreLocation.of(root), url or sqlite_url(root))


@contextmanager
def ui_server(stores: Stores, **settings: Any) -> Iterator[RunningUi]:
    """``grange ui`` over ``stores`` on a free loopback port, in a thread."""
    with serve_in_thread(stores, UiSettings(port=0, **settings)) as running:
        yield running


@contextmanager
def browser(ui: RunningUi, **kwargs: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ui.url.rstrip("/"), timeout=30, **kwargs) as client:
        yield client


def raw_head(port: int, target: bytes) -> tuple[int, bytes]:
    """Send ``GET target`` byte for byte; the status and the raw response head."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        host = f"127.0.0.1:{port}".encode()
        sock.sendall(
            b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n"
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head = data.partition(b"\r\n\r\n")[0] + b"\r\n"
    return int(head.split(b" ", 2)[1]), head


def raw_get(port: int, target: bytes, host: bytes | None = None) -> tuple[int, bytes]:
    """Send ``GET target`` byte for byte (no client normalizes it); the status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        host = f"127.0.0.1:{port}".encode() if host is None else host
        sock.sendall(
            b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n"
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def sse_events(
    client: httpx.Client,
    url: str,
    wanted: str,
    *,
    limit: int = 200,
    on_open: Callable[[], Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """The data of each ``wanted`` event of the stream at ``url`` (up to ``limit`` events
    read); ``on_open`` is called once the stream has made its first read."""
    with client.stream("GET", url) as stream:
        event = None
        seen = 0
        for line in stream.iter_lines():
            if line.startswith("retry:") and on_open is not None:
                on_open()
            elif line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: ") and event is not None:
                seen += 1
                if event == wanted:
                    yield json.loads(line[len("data: ") :])
                if seen >= limit:
                    return
                event = None


def fill(store: MetadataStore, runs: int) -> None:
    """``runs`` index rows in one transaction: every 7th by bob and failed, every 10th tagged."""
    now = time.time()
    rows, tags = [], []
    for number in range(1, runs + 1):
        user = "bob" if number % 7 == 0 else "ada"
        status = "failed" if number % 7 == 0 else "succeeded"
        rows.append(
            (FLOW, str(number), number, user, status, now + number, now + number,
             now + number + 1, now + number + 1, None, "local", json.dumps({"i": number}))
        )  # fmt: skip
        tags.append((FLOW, str(number), f"user:{user}", True))
        if number % 10 == 0:
            tags.append((FLOW, str(number), "tenth", False))
    with store._write() as c:
        c.execute("INSERT INTO flows (name, created_at) VALUES (?, ?)", (FLOW, now))
        c.execute("INSERT INTO run_counters (flow, last_number) VALUES (?, ?)", (FLOW, runs))
        c.executemany(f"INSERT INTO runs ({INSERTED_COLUMNS}) VALUES ({', '.join('?' * 12)})", rows)
        c.executemany("INSERT INTO run_tags (flow, run_id, tag, system) VALUES (?, ?, ?, ?)", tags)
