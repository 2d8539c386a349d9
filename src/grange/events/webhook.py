"""Sending an event over HTTP: to a ``grange scheduler``'s ``POST /events`` or an Argo
Events webhook, with the stdlib (``urllib``: nothing to import for runs that never send).

Transient failures (the endpoint unreachable, a timeout, HTTP 408/429/5xx) are
tried again, :data:`TRIES` times in all with a growing pause; the body is the
same each time, so a grange endpoint that received an earlier try records the
event once (its id). An Argo Events webhook does not deduplicate: delivery
there is at least once. Anything else is an :class:`~grange.exceptions.EventError`
naming the endpoint and the fix (401/403: the token; another 4xx: the
endpoint's answer, trimmed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from grange.exceptions import EventError

TRIES = 4
TIMEOUT = 30.0  # seconds per try: an event must not hold a task for long
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_SHOWN = 300  # characters of an endpoint's answer shown in an error


def post_event(
    url: str,
    body: Mapping[str, Any],
    *,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    tries: int = TRIES,
    timeout: float = TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """POST ``body`` as JSON to ``url``; the endpoint's JSON answer (``{}`` if none)."""
    data = json.dumps(body).encode()
    answer = request(
        "POST",
        url,
        data=data,
        token=token,
        headers=headers,
        tries=tries,
        timeout=timeout,
        sleep=sleep,
    )
    try:
        parsed = json.loads(answer) if answer.strip() else {}
    except ValueError:
        return {}  # a webhook may answer with text: the event was accepted all the same
    return parsed if isinstance(parsed, dict) else {}


def request(
    method: str,
    url: str,
    *,
    data: bytes | None = None,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    tries: int = TRIES,
    timeout: float = TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
) -> bytes:
    """One HTTP request to an events endpoint, tried again on transient failures;
    its body, or an :class:`EventError` in the user's terms."""
    import urllib.error
    import urllib.request

    shown = check_url(url)
    sent = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    last = ""
    for attempt in range(max(1, tries)):
        if attempt:
            sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))
        req = urllib.request.Request(url, data=data, headers=sent, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as err:
            text = _text(err)
            if err.code in RETRY_STATUS:
                last = f"HTTP {err.code} {err.reason}{': ' + text if text else ''}"
                continue
            raise _refused(shown, err.code, str(err.reason), text, token=token) from None
        except (TimeoutError, urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            last = str(reason) or type(reason).__name__
            continue
    raise EventError(
        f"cannot reach the events endpoint {shown} ({last}; tried {max(1, tries)} times)",
        fix="check the URL ([events] url in the profile, GRANGE_EVENTS_URL, or --url) and that "
        "the endpoint is up ('grange scheduler' serves POST /events)",
    )


def check_url(url: str) -> str:
    """``url`` as it may be shown (password masked), if it is an http(s) URL."""
    from grange.config import mask_text

    shown = mask_text(url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise EventError(
            f"the events URL {shown!r} is not an http:// or https:// URL",
            fix="e.g. http://127.0.0.1:8787/events (a grange scheduler) or the URL of an "
            "Argo Events webhook",
        )
    return shown


def _text(err: Any) -> str:
    try:
        body = err.read()
    except Exception:
        return ""
    text = " ".join(body.decode("utf-8", "replace").split())
    try:  # a grange endpoint answers {"error": "..."}: show the sentence
        parsed = json.loads(text)
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
            text = parsed["error"]
    except ValueError:
        pass
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _refused(shown: str, code: int, reason: str, text: str, *, token: str | None) -> EventError:
    said = f": {text}" if text else ""
    if code in (401, 403):
        fix = (
            "the token was refused: check [events] token in the profile or GRANGE_EVENTS_TOKEN "
            "(a grange scheduler's token is its [scheduler] token)"
            if token
            else "the endpoint needs a token: set [events] token in the profile or "
            "GRANGE_EVENTS_TOKEN (a grange scheduler's token is its [scheduler] token)"
        )
    elif code == 404:
        fix = "check the URL: a grange scheduler receives events at http://HOST:PORT/events"
    elif code == 413:
        fix = "the payload is too large for the endpoint: send less, or a reference to the data"
    else:
        fix = "the endpoint refused the event as sent: see its answer above"
    return EventError(f"the events endpoint {shown} answered HTTP {code} {reason}{said}", fix=fix)
