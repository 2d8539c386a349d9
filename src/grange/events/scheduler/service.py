"""The ``grange scheduler`` process: the lease, the HTTP endpoint, the loop, the signals.

It holds the lease of its metadata database (:mod:`~grange.events.scheduler.lease`),
serves the events endpoint (``POST /events``, ``GET /events``, ``GET /healthz``;
:func:`grange.events.server.make_app`) with uvicorn in a thread, and steps the
loop in the main thread until Ctrl-C or SIGTERM. Stopping does not stop the
runs it started: they go on, and the next scheduler follows them to their end.
An event posted to the endpoint wakes the loop at once; one recorded in the
database directly (``Event(...).publish()`` without a URL, ``grange events
publish``) is seen within ``poll_interval`` seconds.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grange.exceptions import CommandError, GrangeError

if TYPE_CHECKING:
    from grange.events.scheduler.clock import Clock
    from grange.events.scheduler.loop import EventSource
    from grange.events.store import EventStore
    from grange.metastore import MetadataStore

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8324
DEFAULT_POLL = 1.0


@dataclass(frozen=True)
class ServiceOptions:
    workdir: Path
    host: str = DEFAULT_HOST
    port: int | None = DEFAULT_PORT  # None: no HTTP endpoint
    token: str | None = None
    poll_interval: float = DEFAULT_POLL
    once: bool = False


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None) -> None:
    """An endpoint reachable from other machines needs a token."""
    if not is_loopback(host) and not token:
        raise CommandError(
            f"--host {host} would accept events from other machines without a token",
            fix="give --token TOKEN (or [scheduler] token in the profile, or "
            "GRANGE_SCHEDULER_TOKEN); publishers then send it as [events] token",
        )


def default_workdir(metadata_url: str) -> Path:
    """Where a scheduler keeps its runs' logs and files for one metadata database."""
    import hashlib

    from grange.datastore.location import cache_dir

    digest = hashlib.sha1(metadata_url.encode(), usedforsecurity=False).hexdigest()[:12]
    return cache_dir() / "scheduler" / digest


def event_source(store: MetadataStore) -> EventStore:
    from grange.events.store import EventStore

    return EventStore(store)


class Service:
    """One scheduler process over ``store``."""

    def __init__(
        self,
        store: MetadataStore,
        options: ServiceOptions,
        clock: Clock,
        *,
        say: Callable[[str], None],
        events: EventSource | None = None,
    ) -> None:
        from grange.events.scheduler.launch import ProcessLauncher
        from grange.events.scheduler.lease import Lease
        from grange.events.scheduler.loop import Scheduler

        if options.port is not None and not options.once:
            check_binding(options.host, options.token)
        self.store = store
        self.options = options
        self.clock = clock
        self.say = say
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.lease = Lease(store)
        self.launcher = ProcessLauncher(options.workdir)
        self.scheduler = Scheduler(
            store,
            events if events is not None else event_source(store),
            self.launcher,
            clock,
            say=say,
        )
        self._server: Any = None
        self.url: str | None = None

    def request_stop(self) -> None:
        self.stop.set()
        self.wake.set()

    def run(self) -> None:
        """Hold the lease and work until stopped (or idle, with ``once``)."""
        import time

        took_over = self.lease.acquire(time.time())
        if took_over is not None:
            self.say(
                f"Took over the lease of a scheduler that is gone (pid {took_over.pid} on "
                f"{took_over.host})."
            )
        try:
            self.options.workdir.mkdir(parents=True, exist_ok=True)
            if self.options.port is not None and not self.options.once:
                self._serve_http()
            last = [0.0]

            def heartbeat(_: float) -> None:
                now = time.time()  # the lease's age is real time, whatever the test clock
                if now - last[0] >= 5.0:
                    self.lease.renew(now)
                    last[0] = now

            self.scheduler.run(
                self.stop,
                self.wake,
                poll_interval=self.options.poll_interval,
                once=self.options.once,
                heartbeat=heartbeat,
            )
        finally:
            self._stop_http()
            self.lease.release()

    # -- HTTP ---------------------------------------------------------------------
    def _serve_http(self) -> None:
        from grange.events.server import make_app, serve

        store = self.store
        app = make_app(
            lambda: event_source(store),
            token=self.options.token,
            on_event=lambda _record: self.wake.set(),
        )
        try:
            self._server = serve(app, self.options.host, self.options.port or 0)
        except GrangeError as err:
            raise CommandError(err.message, fix=err.fix) from None
        self.url = f"{self._server.url}/events"
        self.say(f"Accepting events at {self.url}")

    def _stop_http(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
