"""Serving the app with uvicorn: in the foreground (``grange ui``) or in a thread (tests).

On SIGINT/SIGTERM uvicorn stops accepting and waits for open requests; the
live streams of open pages would keep it waiting for ever, so stopping first
sets the app's stop flag (every stream then ends within a tick) and gives the
rest :data:`GRACE` seconds.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grange.exceptions import CommandError

if TYPE_CHECKING:
    from grange.client.config import Stores
    from grange.ui.settings import UiSettings

GRACE = 3  # seconds a stopping server waits for requests still open


def _server(app: Any, stopping: threading.Event) -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            stopping.set()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=GRACE,
    )
    return Server(config)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (0: a free port), or a CommandError saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError as err:
        sock.close()
        raise CommandError(
            f"grange ui cannot listen on {host}:{port}: {err.strerror or err}",
            fix="choose another port with --port (is a grange ui running there already?)",
        ) from None
    return sock


@dataclass
class RunningUi:
    """A UI served in a thread; :meth:`stop` ends it."""

    url: str
    port: int
    thread: threading.Thread
    server: Any
    stopping: threading.Event
    state: Any = None  # the app's UiState

    def stop(self, timeout: float | None = 10.0) -> None:
        self.stopping.set()
        self.server.should_exit = True
        self.thread.join(timeout)

    def __enter__(self) -> RunningUi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def build(stores: Stores, settings: UiSettings) -> tuple[Any, threading.Event]:
    from grange.ui.app import make_app

    app = make_app(stores, settings)
    return app, app.state.stopping


def serve_forever(stores: Stores, settings: UiSettings, sock: socket.socket) -> None:
    """Serve until SIGINT/SIGTERM (``grange ui``)."""
    app, stopping = build(stores, settings)
    _server(app, stopping).run(sockets=[sock])


def serve_in_thread(stores: Stores, settings: UiSettings) -> RunningUi:
    """Serve on ``settings.host``/``settings.port`` (0: a free one) in a daemon thread."""
    from dataclasses import replace

    sock = bind(settings.host, settings.port)
    port = sock.getsockname()[1]
    settings = replace(settings, port=port)
    app, stopping = build(stores, settings)
    server = _server(app, stopping)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"grange-ui:{port}", daemon=True
    )
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.01)
    return RunningUi(settings.url(), port, thread, server, stopping, app.state)
