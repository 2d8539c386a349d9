"""The ``grange ui`` application: its routes, as Starlette endpoints over :mod:`grange.ui.views`.

Pages (server-rendered, autoescaped Jinja2; the little JavaScript is
``/static/ui.js``):

==================================================================  ==========================
``GET /``                                                           flows
``GET /flows/{flow}``                                               runs (filters, pages)
``GET /flows/{flow}/runs/{run}``                                    a run
``POST /flows/{flow}/runs/{run}/tags``                              add/remove a tag (writes)
``GET /flows/{flow}/runs/{run}/steps/{step}``                       a step's tasks
``GET /flows/{flow}/runs/{run}/steps/{step}/tasks/{task}``          a task (``?attempt=N``)
``GET /cards/{flow}/{run}/{step}/{task}/{slot}``                    a card (sandboxed)
``GET /preview/{flow}/{run}/{step}/{task}/{artifact}``              an artifact's preview
``GET /download/{flow}/{run}/{step}/{task}/{artifact}``             its stored bytes
``GET /api/...``                                                    JSON, logs, live stream
==================================================================  ==========================

Every request first passes :class:`grange.ui.guard.Guard` (host, token, paths,
headers); the read routes answer 404 for a name that breaks its rule
(:mod:`grange.ui.names`) or an object that does not exist.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from grange.exceptions import GrangeError, ObjectNotFound
from grange.ui import names, views
from grange.ui.guard import Guard, csrf_token
from grange.ui.live import page_digest
from grange.ui.settings import UiSettings

if TYPE_CHECKING:
    from jinja2 import Environment
    from starlette.requests import Request
    from starlette.responses import Response

    from grange.client.config import Stores

HERE = Path(__file__).parent
CARD_CSP = (
    "sandbox allow-scripts; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline' 'unsafe-eval'; font-src data:; form-action 'none'; base-uri 'none'"
)
MAX_TAG_FORM = 8192


class UiState:
    """What the endpoints share: the stores, the settings, the templates, the stop flag."""

    def __init__(self, stores: Stores, settings: UiSettings) -> None:
        from jinja2 import Environment, FileSystemLoader, select_autoescape

        self.stores = stores
        self.settings = settings
        self.templates: Environment = Environment(
            loader=FileSystemLoader(str(HERE / "templates")),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        self.templates.filters["log_text"] = views.log_text
        self.stopping = threading.Event()  # set when the server stops: live streams end
        self.streams = 0  # live streams open now (see count_stream)
        self._lock = threading.Lock()
        self.last_sync = 0.0  # when the datastore was last compared with the index (resync)

    def count_stream(self, change: int) -> None:
        """Count a stream opened (+1) or ended (-1). A stream whose client went away
        may be ended by the garbage collector in whatever thread it runs: locked."""
        with self._lock:
            self.streams += change

    def render(self, name: str, status: int = 200, **context: Any) -> Response:
        from starlette.responses import HTMLResponse

        context.setdefault("stream", None)
        context.setdefault("logs_api", None)
        return HTMLResponse(self.templates.get_template(name).render(**context), status)


def make_app(stores: Stores, settings: UiSettings) -> Guard:
    """The app over ``stores`` (read as they are: no namespace), wrapped in its Guard."""
    from starlette.applications import Starlette
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from grange.ui import api, live

    state = UiState(stores, settings)

    def page(handler: Callable[..., Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(state, request)
            except names.BadQuery as err:
                return state.render("error.html", 400, **_error(err, "Bad request"))
            except names.BadName as err:
                return state.render("error.html", 404, **_error(err, "Not found"))
            except ObjectNotFound as err:
                return state.render("error.html", 404, **_error(err, "Not found"))
            except GrangeError as err:
                return state.render("error.html", 400, **_error(err, "Cannot show this"))

        return endpoint

    routes = [
        Route("/", page(flows_page)),
        Route("/flows/{flow}", page(runs_page)),
        Route("/flows/{flow}/runs/{run}", page(run_page)),
        Route("/flows/{flow}/runs/{run}/tags", page(edit_tags), methods=["POST"]),
        Route("/flows/{flow}/runs/{run}/steps/{step}", page(step_page)),
        Route("/flows/{flow}/runs/{run}/steps/{step}/tasks/{task}", page(task_page)),
        *api.routes(state, page),
        Route("/api/stream", live.stream_endpoint(state)),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    return Guard(Starlette(routes=routes), settings, state)


def _error(err: GrangeError, headline: str) -> dict[str, Any]:
    return {"headline": headline, "message": err.message, "fix": err.fix, "code": headline}


async def threaded(func: Callable[..., Any], *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(func, *args)


def resync(state: UiState) -> None:
    """Compare the datastore with the index again every ``sync_every`` seconds (runs
    that other processes stored elsewhere since, their ends)."""
    import time

    from grange.client.sync import forget_synced

    now = time.monotonic()
    if now - state.last_sync >= state.settings.sync_every:
        state.last_sync = now
        forget_synced(state.stores)


def stream_url(kind: str, **params: str) -> str:
    return "/api/stream?" + urlencode({"page": kind, **params})


# -- pages ---------------------------------------------------------------------------------


async def flows_page(state: UiState, request: Request) -> Response:
    namespace = request.query_params.get("namespace") or None
    if namespace is not None:
        names.tag(namespace)
    resync(state)
    shown = await threaded(lambda: page_digest(state, "flows"))
    data = await threaded(views.flows_page, state.stores, namespace)
    return state.render("flows.html", stream=stream_url("flows", d=shown), **data)


async def runs_page(state: UiState, request: Request) -> Response:
    flow = names.flow(request.path_params["flow"])
    try:
        chosen = views.RunFilter.of(request.query_params)
    except names.BadName as err:
        return state.render("error.html", 400, **_error(err, "Bad filter"))
    resync(state)
    await threaded(views.require_flow, state.stores, flow)
    items = chosen.query()
    shown = await threaded(lambda: page_digest(state, "runs", flow=flow, q=urlencode(items)))
    data = await threaded(views.runs_page, state.stores, flow, chosen)

    def query(**change: Any) -> str:
        return urlencode(chosen.query(**change))

    return state.render(
        "runs.html",
        stream=stream_url("runs", flow=flow, q=urlencode(items), d=shown),
        query=query,
        **data,
    )


async def run_page(state: UiState, request: Request) -> Response:
    flow = names.flow(request.path_params["flow"])
    run_id = names.run_id(request.path_params["run"])
    base = f"/flows/{flow}/runs/{run_id}"
    shown = await threaded(lambda: page_digest(state, "run", flow=flow, run=run_id))
    data = await threaded(views.run_page, state.stores, flow, run_id, base)
    token = state.settings.token
    return state.render(
        "run.html",
        stream=stream_url("run", flow=flow, run=run_id, d=shown),
        writes=state.settings.writes,
        csrf=csrf_token(token) if token else "",
        **data,
    )


async def step_page(state: UiState, request: Request) -> Response:
    flow = names.flow(request.path_params["flow"])
    run_id = names.run_id(request.path_params["run"])
    step = names.step(request.path_params["step"])
    number = names.number(request.query_params.get("page"), "page", default=1, low=1, high=10**6)
    shown = await threaded(lambda: page_digest(state, "step", flow=flow, run=run_id))
    data = await threaded(views.step_page, state.stores, flow, run_id, step, number)
    return state.render(
        "step.html", stream=stream_url("step", flow=flow, run=run_id, d=shown), **data
    )


async def task_page(state: UiState, request: Request) -> Response:
    p = request.path_params
    flow, run_id = names.flow(p["flow"]), names.run_id(p["run"])
    step, task_id = names.step(p["step"]), names.task_id(p["task"])
    attempt = names.attempt(request.query_params.get("attempt"))
    params = {"flow": flow, "run": run_id, "step": step, "task": task_id}
    if attempt is not None:
        params["attempt"] = str(attempt)
    shown = await threaded(lambda: page_digest(state, "task", **params))
    data = await threaded(views.task_page, state.stores, flow, run_id, step, task_id, attempt)
    status_value = data.pop("status")
    params["d"] = shown
    if attempt is None:
        params["shown"] = str(data["attempt"])  # a retry's logs replace these
    return state.render(
        "task.html",
        stream=stream_url("task", **params),
        logs_api=f"/api/logs/{flow}/{run_id}/{step}/{task_id}",
        status_value=status_value,
        **data,
    )


async def edit_tags(state: UiState, request: Request) -> Response:
    from starlette.responses import RedirectResponse

    flow = names.flow(request.path_params["flow"])
    run_id = names.run_id(request.path_params["run"])
    body = await request.body()
    if len(body) > MAX_TAG_FORM:
        return state.render(
            "error.html", 413, headline="Too large", message="form too large", fix=None, code="413"
        )
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    token = state.settings.token or ""
    bearer = request.scope.get("state", {}).get("bearer", False)
    if not bearer and not _same(form.get("csrf"), csrf_token(token)):
        return state.render(
            "error.html",
            403,
            headline="Refused",
            code="403",
            fix="reload the run's page and try again",
            message="this form did not come from a page of this grange ui (its CSRF field is missing or wrong)",
        )
    action = form.get("action")
    if action not in ("add", "remove"):
        raise names.BadName(f"action {str(action)[:20]!r}: use add or remove")
    tag = names.tag(form.get("tag", "").strip())

    def change() -> None:
        found = views.run(state.stores, flow, run_id)
        if action == "add":
            found.add_tag(tag)
        else:
            found.remove_tag(tag)

    await threaded(change)
    return RedirectResponse(f"/flows/{flow}/runs/{run_id}", status_code=303)


def _same(given: str | None, expected: str) -> bool:
    from grange.ui.guard import same

    return same(given, expected)
