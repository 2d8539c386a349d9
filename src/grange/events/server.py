"""The events endpoint: a small Starlette app that records the events it receives.

- ``POST /events``: one event, as Metaflow's body or a CloudEvent (see
  :mod:`grange.events.model`); answers ``202 {"id": ID, "duplicate": BOOL}``
  once the event is recorded (``duplicate``: its id was recorded already, and
  nothing changed), ``400 {"error": ...}`` naming what is wrong with the body,
  ``401`` without the right token, ``413`` past :data:`MAX_BODY` bytes, ``503``
  when the database cannot record it (the sender should try again).
- ``GET /events?name=NAME&limit=N``: the latest events, newest first.
- ``GET /healthz``: ``{"status": "ok"}`` (no token needed).

With a ``token``, every request but ``/healthz`` must carry ``Authorization:
Bearer TOKEN`` (compared in constant time). ``on_event(record)`` is called
after each new event is recorded, with the record as stored (its ``seq``
set; the scheduler wakes up on it); its errors are its own and never fail
the request.

:func:`serve` runs an app with uvicorn in a thread of the calling process
(``grange scheduler``, tests) and returns a handle that stops it.
"""

from __future__ import annotations

import hmac
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grange.events.bodies import Received, parse_http
from grange.exceptions import EventError, GrangeError

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from grange.events.model import EventRecord
    from grange.events.store import EventStore

MAX_BODY = 1024 * 1024  # bytes: an event is a message, not a data set
MAX_LIST = 1000
DEFAULT_LIST = 100
log = logging.getLogger("grange.events.server")


class _TooLarge(Exception):
    pass


def make_app(
    store_factory: Callable[[], EventStore],
    *,
    token: str | None = None,
    on_event: Callable[[EventRecord], None] | None = None,
    max_body: int = MAX_BODY,
) -> Starlette:
    """The endpoint's app. ``store_factory`` opens the store on first use (in a
    worker thread); ``token``: required as a bearer token when given."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    lock = threading.Lock()
    opened: list[EventStore] = []

    def store() -> EventStore:
        with lock:
            if not opened:
                opened.append(store_factory())
            return opened[0]

    def error(status: int, message: str, **headers: str) -> Response:
        return JSONResponse({"error": message}, status_code=status, headers=headers or None)

    def refused(request: Request) -> Response | None:
        if token is None:
            return None
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), token.encode()
        ):
            return None
        what = "a wrong token" if given else "no token"
        return error(
            401,
            f"this events endpoint needs 'Authorization: Bearer TOKEN' (the request had {what})",
            **{"WWW-Authenticate": 'Bearer realm="grange events"'},
        )

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body:
            raise _TooLarge
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    def record(received: Received) -> tuple[EventRecord, bool]:
        event = parse_http(received)
        events = store()
        if not events.record(event):
            return event, False
        return events.get(event.event_id) or event, True  # with its seq

    async def post_event(request: Request) -> Response:
        denied = refused(request)
        if denied is not None:
            return denied
        try:
            body = await read_body(request)
        except _TooLarge:
            return error(413, f"the event is larger than {max_body} bytes")
        client = request.client.host if request.client else None
        received = Received(headers=dict(request.headers), body=body, client=client)
        try:
            event, new = await run_in_threadpool(record, received)
        except EventError as err:
            return error(400, _sentence(err))
        except GrangeError as err:  # the database: full, locked, unreachable
            log.warning("cannot record an event: %s", err.message)
            return error(503, f"the event could not be recorded: {err.message}")
        if new and on_event is not None:
            try:
                on_event(event)
            except Exception:  # the scheduler's own problem: the event is recorded
                log.exception("on_event failed for event %s", event.event_id)
        return JSONResponse({"id": event.event_id, "duplicate": not new}, status_code=202)

    async def list_events(request: Request) -> Response:
        denied = refused(request)
        if denied is not None:
            return denied
        name = request.query_params.get("name") or None
        text = request.query_params.get("limit", str(DEFAULT_LIST))
        if not text.isdigit() or not 1 <= int(text) <= MAX_LIST:
            return error(400, f"limit must be a whole number from 1 to {MAX_LIST}, not {text!r}")
        try:
            found = await run_in_threadpool(lambda: store().list(name, limit=int(text)))
        except GrangeError as err:
            return error(503, f"the events could not be read: {err.message}")
        return JSONResponse({"events": [event.to_dict() for event in found]})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/events", post_event, methods=["POST"]),
            Route("/events", list_events, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def _sentence(err: GrangeError) -> str:
    return f"{err.message}: {err.fix}" if err.fix else err.message


@dataclass
class RunningServer:
    """An app served in a thread; :meth:`stop` ends it (and waits for the thread)."""

    host: str
    port: int
    thread: threading.Thread
    server: Any  # uvicorn.Server

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float | None = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(app: Any, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve ``app`` on ``host:port`` (``0``: a free port) in a daemon thread; returns
    once it accepts connections. A port that cannot be bound is an EventError."""
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise EventError(
            f"cannot listen on {host}:{port}: {err.strerror or err}",
            fix="choose another port (0 picks a free one), or stop what holds this one",
        ) from None
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"grange-events:{bound}", daemon=True
    )
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.01)
    if not thread.is_alive():
        sock.close()
        raise EventError(
            f"the events endpoint on {host}:{bound} stopped as it started",
            fix="see the messages above; run again with --debug for details",
        )
    return RunningServer(host=host, port=bound, thread=thread, server=server)
