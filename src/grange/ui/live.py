"""Live pages: Server-Sent Events at ``/api/stream``.

A page names what it shows (``?page=flows|runs|run|step|task`` and its
flow, run, step, task); the connection then reads the index every
``poll_interval`` seconds (one cheap read: counts and statuses, never every
row) and sends

- ``changed`` when what the page shows changed (a new run, a status, a task
  count, a tag): the page fetches itself again and swaps its ``data-live``
  regions;
- ``log`` with the bytes a task's stdout/stderr gained past the offsets the
  page has (``?stdout=N&stderr=M``), whole UTF-8 characters only;
- ``card`` with the slot of a card whose live data or final HTML changed: the
  page reloads that card's frame.

A stream ends when its client goes away (checked on every tick) or when the
server stops (:attr:`grange.ui.app.UiState.stopping`), so a graceful shutdown
never waits on an open page.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from grange.exceptions import GrangeError
from grange.ui import names, views

if TYPE_CHECKING:
    from starlette.datastructures import QueryParams
    from starlette.requests import Request
    from starlette.responses import Response

    from grange.ui.app import UiState

LOG_CHUNK = 256 * 1024
TICK = 0.1  # seconds: how often a waiting stream looks at the stop flag
KEEPALIVE = 15.0  # seconds of silence after which a comment line is sent (proxies, timeouts)
KINDS = ("flows", "runs", "run", "step", "task")


def stream_endpoint(state: UiState) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        from starlette.responses import JSONResponse, StreamingResponse

        try:
            poll = _poller(state, request.query_params)
        except names.BadName as err:
            return JSONResponse({"error": err.message}, 400)
        return StreamingResponse(
            _events(state, request, poll),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return endpoint


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


async def _events(
    state: UiState, request: Request, poll: Callable[[], list[tuple[str, Any]]]
) -> AsyncIterator[str]:
    state.count_stream(+1)
    try:
        async for text in _polled(state, request, poll):
            yield text
    finally:
        state.count_stream(-1)


async def _polled(
    state: UiState, request: Request, poll: Callable[[], list[tuple[str, Any]]]
) -> AsyncIterator[str]:
    from grange.ui.app import resync, threaded

    first = True
    quiet = 0.0
    while not state.stopping.is_set():
        resync(state)
        try:
            messages = await threaded(poll)
        except GrangeError:  # the object went away, the database hiccupped: try later
            messages = []
        if first:  # sent once the first read is made: changes from now on are seen
            first = False
            yield "retry: 3000\n\n"
        for event, data in messages:
            yield sse(event, data)
        quiet = 0.0 if messages else quiet + state.settings.poll_interval
        if quiet >= KEEPALIVE:
            quiet = 0.0
            yield ": keepalive\n\n"
        waited = 0.0
        while waited < state.settings.poll_interval and not state.stopping.is_set():
            if await request.is_disconnected():
                return
            await asyncio.sleep(TICK)
            waited += TICK
    yield sse("end", {"reason": "the server is stopping"})


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, default=str, sort_keys=True).encode()).hexdigest()


class _Changes:
    """Sends ``changed`` when the digest of what ``read`` returns differs from the last."""

    def __init__(self, read: Callable[[], Any]) -> None:
        self.read = read
        self.last: str | None = None

    def __call__(self) -> list[tuple[str, Any]]:
        now = digest(self.read())
        before, self.last = self.last, now
        return [("changed", {"digest": now[:16]})] if before is not None and before != now else []


def _poller(state: UiState, query: QueryParams) -> Callable[[], list[tuple[str, Any]]]:
    kind = query.get("page", "")
    if kind not in KINDS:
        raise names.BadName(f"page {kind[:20]!r}: use one of {', '.join(KINDS)}")
    stores = state.stores
    if kind == "flows":
        return _Changes(lambda: views.flows_page(stores, None))
    flow = names.flow(query.get("flow", ""))
    if kind == "runs":
        inner = _Query(parse_qs(query.get("q", ""), keep_blank_values=True))
        chosen = views.RunFilter.of(inner)

        def runs() -> Any:
            data = views.runs_page(stores, flow, chosen)
            return data["total"], [(r["id"], r["status"], r["tags"]) for r in data["runs"]]

        return _Changes(runs)
    run_id = names.run_id(query.get("run", ""))
    if kind in ("run", "step"):

        def run() -> Any:
            from grange.client import listing

            row = views.run(stores, flow, run_id)._fresh()
            counts = [
                (c.step, sorted(c.counts.items())) for c in listing.run_steps(stores, flow, run_id)
            ]
            return row.status, sorted(row.tags.user), counts

        return _Changes(run)
    step = names.step(query.get("step", ""))
    task_id = names.task_id(query.get("task", ""))
    attempt = names.attempt(query.get("attempt"))
    offsets = {
        s: names.number(query.get(s), s, default=0, low=0, high=2**62) for s in names.STREAMS
    }
    return _TaskPoll(state, (flow, run_id, step, task_id, attempt), offsets)


class _Query(dict[str, list[str]]):
    """``parse_qs`` output with the ``get``/``getlist`` of Starlette's QueryParams."""

    def get(self, key: str, default: Any = None) -> Any:
        values = super().get(key)
        return values[-1] if values else default

    def getlist(self, key: str) -> list[str]:
        return list(super().get(key) or [])


class _TaskPoll:
    """A task page: its attempts and artifacts (``changed``), logs (``log``), cards (``card``)."""

    def __init__(
        self, state: UiState, where: tuple[str, str, str, str, int | None], offsets: dict[str, int]
    ) -> None:
        self.state = state
        self.where = where
        self.offsets = offsets
        self.last: str | None = None
        self.cards: dict[str, str] = {}

    def __call__(self) -> list[tuple[str, Any]]:
        from grange.client.cards import get_cards
        from grange.client.listing import log_slice

        flow, run_id, step, task_id, attempt = self.where
        task = views.task(self.state.stores, flow, run_id, step, task_id, attempt)
        messages: list[tuple[str, Any]] = []
        for stream in names.STREAMS:
            got = log_slice(task, stream, start=self.offsets[stream], length=LOG_CHUNK)
            data = whole_characters(got.data)
            if data:
                self.offsets[stream] = got.start + len(data)
                messages.append(
                    (
                        "log",
                        {
                            "stream": stream,
                            "start": got.start,
                            "length": len(data),
                            "size": got.size,
                            "text": data.decode("utf-8", "replace"),
                        },
                    )
                )
        cards: dict[str, str] = {}
        for card in get_cards(task):
            live = None if getattr(card, "final", True) else card.get_data()
            cards[card.slot] = digest([getattr(card, "hash", None), card.final, live])
        for slot, value in cards.items():
            if slot in self.cards and self.cards[slot] != value:
                messages.append(("card", {"slot": slot}))
        attempts = [(a.attempt, a.status) for a in task._attempts()]
        now = digest([attempts, sorted(task._artifact_rows()), sorted(cards)])
        before, self.last, self.cards = self.last, now, cards
        if before is not None and before != now:
            messages.append(("changed", {"digest": now[:16]}))
        return messages


def whole_characters(data: bytes) -> bytes:
    """``data`` without a UTF-8 character cut at its end (sent with the next bytes)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return data
        if byte >= 0xC0:  # the first byte of a character: is it complete?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data if back >= need else data[:-back]
    return data
