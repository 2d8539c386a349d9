"""A loopback HTTP proxy in front of the test S3 server, to inject faults.

It forwards each HTTP/1.1 request to the upstream server and relays the answer,
except when told otherwise:

* :meth:`S3Proxy.throttle` ``(n)``: the next ``n`` requests get ``503 SlowDown``
  (S3's throttling answer), as a busy bucket gives;
* :meth:`S3Proxy.refuse_all` ``(status, code)``: every request gets that S3 error
  (``403 InvalidAccessKeyId`` for bad credentials, ``403 AccessDenied``), since
  moto accepts any credentials;
* :meth:`S3Proxy.stop` / :meth:`S3Proxy.start`: while stopped, connections are
  dropped without an answer (a store that went away); the upstream server keeps
  its data, so starting again brings everything back.

Requests are parsed only as far as forwarding needs (``Content-Length`` or
chunked bodies); it runs in threads of the test process.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

from s3server import free_port

_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
    "<Message>{message}</Message><RequestId>grange-proxy</RequestId></Error>"
)
_REASONS = {403: "Forbidden", 404: "Not Found", 503: "Slow Down"}


class S3Proxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream`` (``http://127.0.0.1:N``)."""

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.removeprefix("http://").partition(":")
        self.upstream = (host, int(port))
        self.port = free_port()
        self.stopped = False
        self.requests = 0
        self.faults = 0
        self._throttle = 0
        self._refuse: tuple[int, str] | None = None
        #: Called with each forwarded request's head once the server answered it,
        #: before the client hears the answer.
        self.after_request: Callable[[bytes], None] | None = None
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closing = False
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._accept, name="s3proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def throttle(self, n: int) -> None:
        with self._lock:
            self._throttle = n

    def refuse_all(self, status: int, code: str) -> None:
        with self._lock:
            self._refuse = (status, code)

    def heal(self) -> None:
        with self._lock:
            self._throttle, self._refuse, self.stopped = 0, None, False

    def stop(self) -> None:
        self.stopped = True

    def start(self) -> None:
        self.stopped = False

    def close(self) -> None:
        """Stop serving and end every thread of the proxy (a test process that later
        forks checks that it has no other threads)."""
        self._closing = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread in accept()
        self._listener.close()
        with self._lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in [self._thread, *self._threads]:
            thread.join()

    # -- serving ------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.stopped or self._closing:
                _drop(client)
                continue
            thread = threading.Thread(
                target=self._serve, args=(client,), name="s3proxy-connection", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        upstream_reader = None
        reader = client.makefile("rb")
        with self._lock:
            self._sockets.add(client)
        try:
            while True:
                head = _read_head(reader)
                if head is None:
                    return
                body = _read_body(reader, head)
                if self.stopped:
                    _drop(client)
                    return
                fault = self._fault()
                with self._lock:
                    self.requests += 1
                if fault is not None:
                    client.sendall(fault)
                    continue
                if upstream is None:
                    upstream = socket.create_connection(self.upstream)
                    upstream_reader = upstream.makefile("rb")
                    with self._lock:
                        self._sockets.add(upstream)
                upstream.sendall(head + body)
                is_head = head.split(b" ", 1)[0] == b"HEAD"
                answer = _read_head(upstream_reader)
                if answer is None:
                    return
                if self.after_request is not None:
                    self.after_request(head)  # before the client hears the answer
                client.sendall(answer)
                status = int(answer.split(b" ", 2)[1])
                if not is_head and status not in (204, 304):
                    _relay_body(upstream_reader, answer, client.sendall)
        except OSError:
            return
        finally:
            with self._lock:
                self._sockets.discard(client)
                if upstream is not None:
                    self._sockets.discard(upstream)
            reader.close()
            client.close()
            if upstream_reader is not None:
                upstream_reader.close()
            if upstream is not None:
                upstream.close()

    def _fault(self) -> bytes | None:
        with self._lock:
            if self._refuse is not None:
                status, code = self._refuse
            elif self._throttle > 0:
                self._throttle -= 1
                status, code = 503, "SlowDown"
            else:
                return None
            self.faults += 1
        body = _ERROR.format(code=code, message=f"injected by the test proxy ({code})").encode()
        return (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: application/xml\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body


def _drop(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    finally:
        sock.close()


def _read_head(reader: object) -> bytes | None:
    lines = []
    while True:
        line = reader.readline()  # type: ignore[attr-defined]
        if not line:
            return None
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            return b"".join(lines)


def _header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def _read_body(reader: object, head: bytes) -> bytes:
    out: list[bytes] = []
    _relay_body(reader, head, out.append)
    return b"".join(out)


def _relay_body(reader: object, head: bytes, send: Callable[[bytes], object]) -> None:
    """Copy the body that ``head`` announces from ``reader`` to ``send``."""
    read = reader.read  # type: ignore[attr-defined]
    if (_header(head, b"transfer-encoding") or b"").lower() == b"chunked":
        readline = reader.readline  # type: ignore[attr-defined]
        while True:
            size_line = readline()
            send(size_line)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            data = read(size + 2)  # the chunk and its CRLF
            send(data)
            if size == 0:
                return
    length = int(_header(head, b"content-length") or b"0")
    while length > 0:
        data = read(min(length, 1 << 20))
        if not data:
            raise OSError("connection closed mid-body")
        send(data)
        length -= len(data)
