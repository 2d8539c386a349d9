"""The routes of ``grange ui`` that are not pages: cards, previews, downloads, JSON, logs.

Cards and previews are whole HTML documents made from stored data; they are
served with a sandboxing Content-Security-Policy (:data:`~grange.ui.app.CARD_CSP`:
an opaque origin, scripts inline only, no network) and shown in
``<iframe sandbox="allow-scripts">``. A download serves the artifact's stored
bytes as they are (grange's serialized form, ``application/octet-stream``):
the server never unpickles a value to send it. A preview reconstructs only
an allow-list of plain types (:mod:`grange.ui.safe_load`): the UI never runs
code from the store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from grange.exceptions import GrangeError, ObjectNotFound
from grange.ui import names, views

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from grange.ui.app import UiState

PREVIEW_MAX = 64 * 1024 * 1024  # bytes: a larger artifact is described, not loaded
LOG_MAX = 1024 * 1024
NO_PREVIEW = (
    "no preview in the UI for {type} (the UI never runs code from the store); "
    "download it or read it with the client"
)


def routes(state: UiState, page: Callable[..., Any]) -> list[Route]:
    from starlette.routing import Route

    task_path = "{flow}/{run}/{step}/{task}"
    return [
        Route(f"/cards/{task_path}/{{slot}}", guarded(state, card)),
        Route(f"/preview/{task_path}/{{name}}", guarded(state, preview)),
        Route(f"/download/{task_path}/{{name}}", guarded(state, download)),
        Route(f"/api/logs/{task_path}/{{stream}}", guarded(state, logs)),
        Route("/api/flows", guarded(state, api_flows)),
        Route("/api/flows/{flow}/runs", guarded(state, api_runs)),
        Route("/api/flows/{flow}/runs/{run}", guarded(state, api_run)),
        Route("/api/info", guarded(state, info)),
    ]


def guarded(state: UiState, handler: Callable[..., Any]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        from starlette.responses import JSONResponse

        try:
            response: Response = await handler(state, request)
            return response
        except names.BadQuery as err:
            return JSONResponse({"error": err.message}, 400)
        except (names.BadName, ObjectNotFound) as err:
            return JSONResponse({"error": err.message}, 404)
        except GrangeError as err:
            return JSONResponse({"error": err.message, "fix": err.fix}, 400)

    return endpoint


def task_of(request: Request) -> tuple[str, str, str, str, int | None]:
    p = request.path_params
    return (
        names.flow(p["flow"]),
        names.run_id(p["run"]),
        names.step(p["step"]),
        names.task_id(p["task"]),
        names.attempt(request.query_params.get("attempt")),
    )


def artifact_name(request: Request) -> str:
    """The artifact's name: in the path when it is an identifier, else ``-`` in the
    path and the name in ``?name=`` (``setattr(self, "a/b", 1)`` makes such names).
    Only looked up among the task's artifacts: it never names a path."""
    given = request.path_params["name"]
    if given != "-":
        return names.artifact(given)
    value = request.query_params.get("name", "")
    if not value or len(value) > 200 or not value.isprintable():
        raise names.BadQuery(f"artifact name {value[:40]!r} is not a name")
    return value


def sandboxed(html: str, status: int = 200) -> Response:
    from starlette.responses import HTMLResponse

    from grange.ui.app import CARD_CSP

    return HTMLResponse(
        html,
        status,
        headers={
            "Content-Security-Policy": CARD_CSP,
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


async def card(state: UiState, request: Request) -> Response:
    from grange.ui.app import threaded

    flow, run_id, step, task_id, attempt = task_of(request)
    slot = names.slot(request.path_params["slot"])

    def read() -> str | None:
        from grange.client.cards import get_cards

        found = views.task(state.stores, flow, run_id, step, task_id, attempt)
        for c in get_cards(found):
            if c.slot == slot:
                html: str = c.get()
                return html
        return None

    try:
        html = await threaded(read)
    except ObjectNotFound:
        raise
    except GrangeError as err:  # a damaged card, a card that failed: said in the frame
        return sandboxed(_message_page(f"This card cannot be shown: {err.message}"), 500)
    if html is None:
        return sandboxed(_message_page(f"No card {slot} for this task (yet)."), 404)
    return sandboxed(html)


def _message_page(text: str) -> str:
    from html import escape

    return f"<!doctype html><meta charset='utf-8'><p>{escape(text)}</p>"


async def preview(state: UiState, request: Request) -> Response:
    from grange.ui.app import threaded
    from grange.ui.preview import preview_page

    flow, run_id, step, task_id, attempt = task_of(request)
    name = artifact_name(request)

    def read() -> str:
        from grange.client.listing import artifact_chunks
        from grange.ui.safe_load import NotPreviewable, load_for_preview

        found = views.task(state.stores, flow, run_id, step, task_id, attempt)
        rows = found._artifact_rows()
        if name not in rows:
            raise ObjectNotFound(f"artifact {name} does not exist in {found.pathspec}")
        row = rows[name]
        if row.size > PREVIEW_MAX:
            return preview_page(name, row.type, row.size, None, loaded=False)
        _, chunks = artifact_chunks(state.stores, flow, row.key)
        try:
            value = load_for_preview(b"".join(chunks), PREVIEW_MAX)
        except NotPreviewable as err:
            if str(err).startswith("too large"):
                return preview_page(name, row.type, row.size, None, loaded=False)
            return _message_page(NO_PREVIEW.format(type=row.type))
        except Exception:  # an allowed type given odd arguments: still nothing run
            return _message_page(NO_PREVIEW.format(type=row.type))
        return preview_page(name, row.type, row.size, value, loaded=True)

    try:
        return sandboxed(await threaded(read))
    except ObjectNotFound:
        raise
    except GrangeError as err:  # a damaged blob
        return sandboxed(_message_page(f"No preview: {err.message}"), 500)


async def download(state: UiState, request: Request) -> Response:
    from starlette.responses import StreamingResponse

    from grange.client.listing import artifact_chunks
    from grange.ui.app import threaded

    flow, run_id, step, task_id, attempt = task_of(request)
    name = artifact_name(request)

    def read() -> tuple[int, Any]:
        found = views.task(state.stores, flow, run_id, step, task_id, attempt)
        rows = found._artifact_rows()
        if name not in rows:
            raise ObjectNotFound(f"artifact {name} does not exist in {found.pathspec}")
        return artifact_chunks(state.stores, flow, rows[name].key)

    size, chunks = await threaded(read)
    safe = name if name.isidentifier() and name.isascii() else "artifact"
    filename = f"{flow}-{run_id}-{step}-{task_id}-{safe}.grange"
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Length": str(size),
        },
    )


async def logs(state: UiState, request: Request) -> Response:
    from starlette.responses import JSONResponse

    from grange.client.listing import log_slice
    from grange.ui.app import threaded

    flow, run_id, step, task_id, attempt = task_of(request)
    stream = names.stream(request.path_params["stream"])
    q = request.query_params
    length = names.number(q.get("length"), "length", default=views.LOG_TAIL, low=0, high=LOG_MAX)
    start = (
        None
        if q.get("start") in (None, "")
        else names.number(q.get("start"), "start", default=0, low=0, high=2**62)
    )

    def read() -> Any:
        found = views.task(state.stores, flow, run_id, step, task_id, attempt)
        return log_slice(found, stream, start=start, length=length)

    got = await threaded(read)
    return JSONResponse(
        {
            "stream": stream,
            "start": got.start,
            "length": len(got.data),
            "size": got.size,
            "text": views.log_text(got.data),
            "source": got.source,
        }
    )


async def api_flows(state: UiState, request: Request) -> Response:
    from starlette.responses import JSONResponse

    from grange.ui.app import threaded

    data = await threaded(views.flows_page, state.stores, None)
    return JSONResponse(json.loads(json.dumps(data, default=str)))


async def api_runs(state: UiState, request: Request) -> Response:
    from starlette.responses import JSONResponse

    from grange.ui.app import threaded

    flow = names.flow(request.path_params["flow"])
    try:
        chosen = views.RunFilter.of(request.query_params)
    except names.BadName as err:  # a filter, not an address: 400
        raise names.BadQuery(err.message) from err
    await threaded(views.require_flow, state.stores, flow)
    data = await threaded(views.runs_page, state.stores, flow, chosen)
    data.pop("filter")
    return JSONResponse(json.loads(json.dumps(data, default=str)))


async def api_run(state: UiState, request: Request) -> Response:
    from starlette.responses import JSONResponse

    from grange.client import listing
    from grange.ui.app import threaded

    flow = names.flow(request.path_params["flow"])
    run_id = names.run_id(request.path_params["run"])

    def read() -> dict[str, Any]:
        row = views.run(state.stores, flow, run_id)._fresh()
        steps = {}
        for c in listing.run_steps(state.stores, flow, run_id):
            status, numbers = views.step_state(c.counts)
            steps[c.step] = {"status": status, **numbers}
        return {"run": views.run_summary(row), "steps": steps}

    return JSONResponse(json.loads(json.dumps(await threaded(read), default=str)))


async def info(state: UiState, request: Request) -> Response:
    """The version and the store's fingerprint (answered without the token:
    :mod:`grange.ui.fingerprint`); with the token, also where the store is."""
    from starlette.responses import JSONResponse

    from grange._version import __version__
    from grange.metastore.urls import mask_url
    from grange.ui.fingerprint import store_fingerprint

    stores = state.stores
    answer: dict[str, Any] = {
        "grange": __version__,
        "fingerprint": store_fingerprint(stores.root, stores.url),
    }
    if request.scope.get("state", {}).get("authorized", True):
        answer |= {
            "store": mask_url(stores.describe()),
            "writes": state.settings.writes,
            "streams": state.streams,
        }
    return JSONResponse(answer)
