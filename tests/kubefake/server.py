"""The fake API server's HTTP side: routes, bodies, and streamed pod logs."""

from __future__ import annotations

import json
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from kubefake.store import KINDS, ApiError, Kind

if TYPE_CHECKING:
    from kubefake import FakeKube

_ROUTE = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
    r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>log))?/?$"
)


class FakeServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the request threads: none is left

    def __init__(self, fake: FakeKube) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.fake = fake


class Handler(BaseHTTPRequestHandler):
    server: FakeServer
    protocol_version = "HTTP/1.1"  # a followed log is sent chunked, as a real server does

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        fake.requests.append((method, url.path))
        for fault in list(fake.faults):  # an injected failure, answered once
            if fault[0] == method and fault[1] in url.path:
                fake.faults.remove(fault)
                self._send(fault[2], ApiError(fault[2], "ServiceUnavailable", "injected").status)
                return
        try:
            body = self._body()
            match = _ROUTE.match(url.path)
            kind = KINDS.get(match["plural"]) if match else None
            group = (match["group"] or "") if match else ""
            if match is None or kind is None or kind.group != group:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            ns, name, sub = match["ns"], match["name"], match["sub"]
            if sub == "log":
                if method != "GET" or kind.plural != "pods" or not (ns and name):
                    raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
                self._log(ns, name, query)
                return
            self._send(*self._dispatch(method, kind, ns, name, query, body))
        except ApiError as err:
            self._send(err.code, err.status)

    def _dispatch(
        self,
        method: str,
        kind: Kind,
        ns: str | None,
        name: str | None,
        query: dict[str, str],
        body: Any,
    ) -> tuple[int, dict[str, Any]]:
        store = self.server.fake.store
        if name is None:
            if method == "GET":
                return 200, store.list(kind, ns, query.get("labelSelector", ""))
            if method == "POST" and ns:
                return 201, store.create(kind, ns, body)
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
        if not ns:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if method == "GET":
            return 200, store.get(kind, ns, name)
        if method == "PUT":
            return 200, store.replace(kind, ns, name, body)
        if method == "PATCH":
            content_type = self.headers.get("Content-Type", "")
            return 200, store.patch(kind, ns, name, body, content_type)
        if method == "DELETE":
            propagation = query.get("propagationPolicy") or (
                (body or {}).get("propagationPolicy") if isinstance(body, dict) else None
            )
            default = "Orphan" if kind.plural == "jobs" else "Background"  # batch/v1's default
            return 200, store.delete(kind, ns, name, propagation or default)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return None
        raw = self.rfile.read(length)
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(
                400, "BadRequest", "the body of the request was in an unknown format"
            ) from None

    def _send(self, code: int, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        # No keep-alive: a request's thread ends with it, so stop() can join them all.
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def _log(self, ns: str, name: str, query: dict[str, str]) -> None:
        fake = self.server.fake
        pod = fake.store.get(KINDS["pods"], ns, name)
        path, proc = fake.kubelet.log_of(ns, name)
        if path is None or proc is None:
            statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
            waiting = (statuses[0].get("state") or {}).get("waiting") or {}
            raise ApiError(
                400,
                "BadRequest",
                f'container "main" in pod "{name}" is waiting to start: '
                f"{waiting.get('reason', 'ContainerCreating')}",
            )
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        follow = query.get("follow") in ("true", "1")
        with open(path, "rb") as fh:
            while True:
                ended = proc.poll() is not None
                chunk = fh.read(65536)
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                elif not follow or ended:
                    self.wfile.write(b"0\r\n\r\n")
                    return
                else:
                    time.sleep(0.05)
