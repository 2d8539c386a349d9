"""A webhook EventSource on loopback, for tests: events POSTed to it reach Sensors.

``WebhookSource(name, event)`` listens on 127.0.0.1 (a free port); ``.url`` is
what pods and ``Event(...).publish()`` POST to (``GRANGE_EVENTS_URL``). Each
JSON body is delivered to every :class:`~.events.SensorRunner` added with
:meth:`add`, as Argo Events' webhook source would (``{"header", "body"}``); the
Workflows they create are queued in :attr:`created`. A body that is not JSON
gets a 400, as Argo Events' webhook refuses it.
"""

from __future__ import annotations

import json
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .events import SensorRunner


class WebhookSource:
    def __init__(self, name: str = "grange-events", event: str = "grange-event",
                 endpoint: str = "/events") -> None:  # fmt: skip
        self.name, self.event, self.endpoint = name, event, endpoint
        self.sensors: list[SensorRunner] = []
        self.created: queue.Queue[dict[str, Any]] = queue.Queue()
        self.received: list[Any] = []
        source = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path != source.endpoint:
                    self.send_response(404)
                    self.end_headers()
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                headers = {k: [v] for k, v in self.headers.items()}
                source.received.append(body)
                for sensor in source.sensors:
                    for workflow in sensor.deliver(source.name, source.event, body, headers):
                        source.created.put(workflow)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{self.endpoint}"

    def add(self, sensor: dict[str, Any] | SensorRunner) -> SensorRunner:
        runner = sensor if isinstance(sensor, SensorRunner) else SensorRunner(sensor)
        self.sensors.append(runner)
        return runner

    def __enter__(self) -> WebhookSource:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
