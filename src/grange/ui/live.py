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
import re
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from grange.exceptions import GrangeError, ObjectNotFound
from grange.ui import names, views

if TYPE_CHECKING:
    from starlette.datastructures import QueryParams
    from starlette.requests import Request
    from starlette.responses import Response

    from grange.ui.app import UiState

LOG_CHUNK = 256 * 1024
_CUT_ESCAPE = re.compile(rb"\x1b(?:\[[0-9;?]*[ -/]*|\][^\x07\x1b]*)?\Z")
TICK = 0.1  # seconds: how often a waiting stream looks at the stop flag
KEEPALIVE = 15.0  # seconds of silence after which a comment line is sent (proxies, timeouts)
KINDS = ("flows", "runs", "run", "step", "task")


def stream_endpoint(state: UiState) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        from starlette.responses import JSONResponse, StreamingResponse

        from grange.ui.app import threaded

        try:
            poll = _poller(state, request.query_params)
            await threaded(poll.check)
        except names.BadName as err:
            return JSONResponse({"error": err.message}, 400)
        except ObjectNotFound as err:  # no such run or task: nothing will ever change
            return JSONResponse({"error": err.message}, 404)
        return StreamingResponse(  # (Cache-Control: no-store comes from the Guard)
            _events(state, request, poll),
            media_type="text/event-stream",
            headers={"X-Accel-Buffering": "no"},
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
    return hashlib.sha256(json.dumps(value, default=str, sort_keys=True).encode()).hexdigest()[:32]


def page_digest(state: UiState, kind: str, **params: str) -> str:
    """The digest of what a page of ``kind`` shows, read now: the page reads it
    *before* its data and puts it in its stream's address (``d=``), so that the
    stream compares the index with what the page really shows, not with its own
    first read (a change in between would never be shown)."""
    return _poller(state, params | {"page": kind}).digest()


class _Changes:
    """Sends ``changed`` when the digest of what ``read`` returns differs from the last
    (at first, from the digest the page was rendered with, if it said)."""

    def __init__(self, read: Callable[[], Any], shown: str | None = None) -> None:
        self.read = read
        self.last = shown

    def check(self) -> None:
        self.read()

    def digest(self) -> str:
        return digest(self.read())

    def __call__(self) -> list[tuple[str, Any]]:
        now = self.digest()
        before, self.last = self.last, now
        return [("changed", {"digest": now[:16]})] if before is not None and before != now else []


def _shown(query: Any) -> str | None:
    given = query.get("d") or None
    if given is not None and not (len(given) == 32 and all(c in "0123456789abcdef" for c in given)):
        raise names.BadQuery(f"d {given[:40]!r} is not a page digest")
    return given


def _poller(state: UiState, query: QueryParams | dict[str, str]) -> _Changes | _TaskPoll:
    kind = query.get("page", "")
    if kind not in KINDS:
        raise names.BadName(f"page {kind[:20]!r}: use one of {', '.join(KINDS)}")
    stores = state.stores
    shown = _shown(query)
    if kind == "flows":

        def flows() -> Any:  # what changes, not durations that tick while a run runs
            found = views.flows_page(stores, None)["flows"]
            return [
                (
                    f["name"],
                    f["runs"],
                    f["last"] and [f["last"][k] for k in ("id", "status", "tags")],
                )
                for f in found
            ]

        return _Changes(flows, shown)
    flow = names.flow(query.get("flow", ""))
    if kind == "runs":
        inner = _Query(parse_qs(query.get("q", ""), keep_blank_values=True))
        chosen = views.RunFilter.of(inner)

        def runs() -> Any:
            data = views.runs_page(stores, flow, chosen)
            return data["total"], [(r["id"], r["status"], r["tags"]) for r in data["runs"]]

        return _Changes(runs, shown)
    run_id = names.run_id(query.get("run", ""))
    if kind in ("run", "step"):

        def run() -> Any:
            from grange.client import listing

            row = views.run(stores, flow, run_id)._fresh()
            counts = [
                (c.step, sorted(c.counts.items())) for c in listing.run_steps(stores, flow, run_id)
            ]
            return row.status, sorted(row.tags.user), counts

        return _Changes(run, shown)
    step = names.step(query.get("step", ""))
    task_id = names.task_id(query.get("task", ""))
    attempt = names.attempt(query.get("attempt"))
    offsets = {
        s: names.number(query.get(s), s, default=0, low=0, high=2**62) for s in names.STREAMS
    }
    attempt_shown = (
        None
        if attempt is not None
        else names.number(query.get("shown"), "shown", default=-1, low=0, high=names.MAX_ATTEMPT)
    )
    poll = _TaskPoll(state, (flow, run_id, step, task_id, attempt), offsets, shown)
    poll.attempt_shown = None if attempt_shown == -1 else attempt_shown
    return poll


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
        self,
        state: UiState,
        where: tuple[str, str, str, str, int | None],
        offsets: dict[str, int],
        shown: str | None = None,
    ) -> None:
        self.state = state
        self.where = where
        self.offsets = offsets
        self.last = shown
        self.cards: dict[str, str] | None = None
        # The attempt whose logs the page shows (a page of the latest attempt): when
        # another starts, its logs start again from 0 and the page swaps its panes.
        self.attempt_shown: int | None = None

    def _task(self) -> Any:
        flow, run_id, step, task_id, attempt = self.where
        return views.task(self.state.stores, flow, run_id, step, task_id, attempt)

    def check(self) -> None:
        self._task()._attempts()

    def _cards(self, task: Any) -> dict[str, str]:
        from grange.client.cards import get_cards

        cards: dict[str, str] = {}
        for card in get_cards(task):
            live = None if getattr(card, "final", True) else card.get_data()
            cards[card.slot] = digest([getattr(card, "hash", None), card.final, live])
        return cards

    @staticmethod
    def _digest(task: Any, cards: dict[str, str]) -> str:
        attempts = [(a.attempt, a.status) for a in task._attempts()]
        return digest([attempts, sorted(task._artifact_rows()), sorted(cards)])

    def digest(self) -> str:
        task = self._task()
        return self._digest(task, self._cards(task))

    def __call__(self) -> list[tuple[str, Any]]:
        from grange.client.listing import log_slice

        task = self._task()
        messages: list[tuple[str, Any]] = []
        if self.attempt_shown is not None:
            current = task.current_attempt
            if current != self.attempt_shown:  # a retry started: its logs from byte 0
                self.attempt_shown = current
                self.offsets = dict.fromkeys(names.STREAMS, 0)
                self.last = None
                return [("changed", {"digest": "", "attempt": current, "logs": True})]
        for stream in names.STREAMS:
            got = log_slice(task, stream, start=self.offsets[stream], length=LOG_CHUNK)
            data = whole_escapes(whole_characters(got.data))
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
                            "text": views.log_text(data),
                        },
                    )
                )
        cards = self._cards(task)
        for slot, value in cards.items():
            if self.cards is not None and slot in self.cards and self.cards[slot] != value:
                messages.append(("card", {"slot": slot}))
        now = self._digest(task, cards)
        before, self.last, self.cards = self.last, now, cards
        if before is not None and before != now:
            messages.append(("changed", {"digest": now[:16]}))
        return messages


def whole_escapes(data: bytes) -> bytes:
    """``data`` without a terminal escape code cut at its end (its start is sent with
    the rest, next time, so the page can remove it whole)."""
    cut = _CUT_ESCAPE.search(data[-64:])
    return data[: len(data) - len(data[-64:]) + cut.start()] if cut else data


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
