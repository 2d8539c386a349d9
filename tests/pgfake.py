"""A stand-in PostgreSQL server on loopback that refuses every connection in one way.

psycopg (libpq) connects to it for real: it answers the SSL and GSSAPI
requests with "no", then either sends the ErrorResponse a real server sends
for a wrong password, or says nothing at all (a host that accepts the TCP
connection and never answers: ``connect_timeout`` must end the wait).
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_SSL_REQUEST = 80877103
_GSS_REQUEST = 80877104


def _error(code: str, message: str) -> bytes:
    fields = b"".join(
        kind + value.encode() + b"\0"
        for kind, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


def _read_packet(conn: socket.socket) -> tuple[int, bytes]:
    head = b""
    while len(head) < 8:
        chunk = conn.recv(8 - len(head))
        if not chunk:
            raise ConnectionError("closed")
        head += chunk
    length, code = struct.unpack("!II", head)
    rest = b""
    while len(rest) < length - 8:
        chunk = conn.recv(length - 8 - len(rest))
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    return code, rest


def _serve(conn: socket.socket, reply: str, stop: threading.Event) -> None:
    with conn:
        try:
            while True:
                code, _ = _read_packet(conn)
                if code in (_SSL_REQUEST, _GSS_REQUEST):
                    conn.sendall(b"N")
                    continue
                break  # the startup message
            if reply == "silent":
                stop.wait(30)
                return
            conn.sendall(_error("28P01", 'password authentication failed for user "ada"'))
        except (ConnectionError, OSError):
            return


@contextmanager
def fake_postgres(reply: str) -> Iterator[int]:
    """A server on a free loopback port, ``reply`` "password" or "silent"; its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=_serve, args=(conn, reply, stop), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()
