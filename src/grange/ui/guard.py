"""What every request to ``grange ui`` passes before a page sees it, and every answer gets.

- **Host** (against DNS rebinding): on loopback, only ``127.0.0.1``,
  ``localhost`` or ``[::1]`` (with the port listened on) is accepted, else 400:
  a page of another site whose name was pointed at 127.0.0.1 cannot read runs.
- **Paths**: a raw path holding an encoded slash, backslash, NUL or dot is
  refused (400) before routing; each path parameter is then checked by its
  own rule (:mod:`grange.ui.names`), so nothing outside the store is named.
- **Token**: when one is set, every request carries it: ``Authorization:
  Bearer T``, the ``grange_ui_token`` cookie, or ``?token=T`` once (answered
  with the cookie, ``HttpOnly; SameSite=Strict``, and, for a page, a redirect
  to the same address without the token). Compared in constant time. Only
  ``GET /api/info`` answers without it, with the version and the store's
  fingerprint alone (:mod:`grange.ui.fingerprint`).
- **Writes** (POST): only when the settings allow them (``[ui] allow_writes``
  and a token), and only from this origin (the ``Origin`` header, when sent,
  must be this server's; the form's CSRF field must match, see :func:`csrf_token`).
- **Frames**: only cards (and, from this server's own pages, previews) are
  served into a frame: a request whose ``Sec-Fetch-Dest`` is ``iframe`` or
  ``frame`` for any other address is refused (403), so a card navigating
  its own frame cannot make the UI do anything but show another card.
- **Headers**: a strict Content-Security-Policy on the app's pages (scripts
  and styles from /static only; no framing), ``nosniff``, no referrer; the
  card routes set their own (sandboxed) policy.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from grange.ui.settings import UiSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "grange_ui_token"
APP_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
_BAD_RAW = re.compile(rb"%(2f|5c|00|2e)|\\|\x00", re.IGNORECASE)
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def csrf_token(token: str) -> str:
    """The value a write form carries: derived from the token, so a page of another
    site, which cannot read ours, cannot know it."""
    return hmac.new(token.encode(), b"grange-ui-csrf", hashlib.sha256).hexdigest()


def same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class Guard:
    """The ASGI middleware described in the module docstring."""

    def __init__(self, app: ASGIApp, settings: UiSettings, state: Any = None) -> None:
        self.app = app
        self.settings = settings
        self.state = state  # the app's shared state (grange.ui.app.UiState)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refused = self._refused(scope, headers)
        if refused is not None:
            await _plain(send, *refused)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        pairs = parse_qsl(query, keep_blank_values=True)
        given = dict(pairs).get("token")
        set_cookie = False
        token = self.settings.token
        if token is not None:
            if given is not None and same(given, token):
                set_cookie = True
                if scope["method"] == "GET" and not scope["path"].startswith("/api/"):
                    rest = urlencode([(k, v) for k, v in pairs if k != "token"])
                    where = same_origin_path(scope["path"]) + (f"?{rest}" if rest else "")
                    await _redirect(send, where, self._cookie(token))
                    return
            elif scope["path"] == "/api/info" and scope["method"] == "GET":
                scope.setdefault("state", {})["authorized"] = self._authorized(headers, token)
            elif not self._authorized(headers, token):
                await _plain(
                    send,
                    401,
                    "this grange ui needs its token: open it once with ?token=TOKEN (the "
                    "address grange ui printed), or send 'Authorization: Bearer TOKEN'",
                )
                return
        scope.setdefault("state", {})["bearer"] = token is not None and _bearer_is(headers, token)
        cookie = self._cookie(token) if set_cookie and token is not None else None

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = message.setdefault("headers", [])
                names = {k.lower() for k, _ in extra}
                if b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", APP_CSP.encode()))
                    extra.append((b"x-frame-options", b"DENY"))
                extra.append((b"x-content-type-options", b"nosniff"))
                extra.append((b"referrer-policy", b"no-referrer"))
                extra.append((b"cache-control", b"no-store"))
                if cookie is not None:
                    extra.append((b"set-cookie", cookie.encode()))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refused(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        host = headers.get("host", "")
        if self.settings.loopback and not (self._loopback_host(host) or self._named(host)):
            return 400, f"unexpected Host header {host[:100]!r}: open grange ui by its address"
        raw = scope.get("raw_path") or scope["path"].encode()
        if _BAD_RAW.search(raw) or "\x00" in scope["path"] or "/../" in scope["path"] + "/":
            return 400, "this address holds characters grange ui does not serve"
        dest = headers.get("sec-fetch-dest", "")
        if dest in ("iframe", "frame") and not self._framable(scope["path"], headers):
            return 403, "this address of grange ui is not shown in a frame (only cards are)"
        if scope["method"] not in ("GET", "HEAD", "POST"):
            return 405, "method not allowed"
        if scope["method"] == "POST":
            if not self.settings.writes:
                return 403, (
                    "this grange ui is read-only: tags can be edited from the browser only "
                    "with allow_writes = true in the profile's [ui] table and a token"
                )
            origin = headers.get("origin")
            public = self.settings.public_origin
            if (
                origin is not None
                and origin.split("://", 1)[-1] != host
                and origin.lower() != public
            ):
                return 403, "a write must come from a page of this grange ui"
        return None

    @staticmethod
    def _framable(path: str, headers: dict[str, str]) -> bool:
        """Cards are framed; a preview only by a page of this server (a card, whose
        origin is opaque, navigating its own frame is a cross-site request)."""
        if path.startswith("/cards/"):
            return True
        return path.startswith("/preview/") and headers.get("sec-fetch-site") == "same-origin"

    def _named(self, host: str) -> bool:
        """``[ui] allowed_hosts`` (with or without a port) and public_url's host."""
        host = host.lower()
        names = set(self.settings.allowed_hosts)
        public = self.settings.public_origin
        if public is not None:
            names.add(public.split("://", 1)[1])
        bare = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return bool(host) and (host in names or bare in names)

    def _loopback_host(self, host: str) -> bool:
        name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
        if not name:
            name, port = host, ""
        bound = self.settings.host
        if name not in (*_LOOPBACK_NAMES, bound, f"[{bound}]"):
            return False
        wanted = self.settings.port
        return wanted == 0 or port == str(wanted) or (not port and wanted == 80)

    def _authorized(self, headers: dict[str, str], token: str) -> bool:
        if _bearer_is(headers, token):
            return True
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and same(value, token):
                return True
        return False

    @staticmethod
    def _cookie(token: str) -> str:
        return f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"


def _bearer_is(headers: dict[str, str], token: str) -> bool:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and same(value.strip(), token)


def same_origin_path(path: str) -> str:
    """``path`` as a path of this server, percent-encoded: never ``//host/...``
    (which a browser reads as another site) and always ASCII."""
    return quote("/" + path.lstrip("/"), safe="/:@!$&'()*+,;=-._~")


async def _plain(send: Send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"content-security-policy", b"default-src 'none'"),
                (b"x-frame-options", b"DENY"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, where: str, cookie: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [
                (b"location", where.encode("latin-1")),
                (b"set-cookie", cookie.encode()),
                (b"content-length", b"0"),
                (b"referrer-policy", b"no-referrer"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})
