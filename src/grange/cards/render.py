"""A card document as ONE self-contained HTML page.

:func:`render_html` is a pure function of the document: it runs no user code,
loads nothing from the network (a Content-Security-Policy forbids it), escapes
every string, and never raises: a component it cannot draw (of an unknown
type, or with fields of the wrong shape) becomes an error box. Text that
cannot be written as UTF-8 (lone surrogates, such as a file name decoded with
``surrogateescape``) is written with backslash escapes (``\udce9``).

The page's size is counted as it is drawn, component by component: one that
would take the page past :data:`~grange.cards._limits.MAX_CARD_BYTES` (or a
Markdown component whose HTML would pass
:data:`~grange.cards._limits.MAX_MARKDOWN_HTML`) is replaced by an error box
that names it, its size and the budget, and the rest of the card is kept.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable
from html import escape
from importlib import resources
from typing import Any

from grange.cards import charts, markdown
from grange.cards._limits import (
    MAX_CARD_BYTES,
    MAX_LONG_TEXT,
    MAX_MARKDOWN_HTML,
    cut,
    describe_exception,
    safe_repr,
)
from grange.cards.dag import dag_svg
from grange.cards.images import is_image_data_uri

_MAX_DEPTH = 12
#: Bytes kept for the page around the components (CSS, title, meta line).
_RESERVE = 64 * 1024


class _TooLarge(Exception):
    """A part being drawn would take its component past what the page has left."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8", "backslashreplace"))


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.0f} KB"


@functools.lru_cache(maxsize=1)
def _css() -> str:
    return (resources.files("grange.cards") / "static" / "card.css").read_text(encoding="utf-8")


def _e(value: Any) -> str:
    """Escaped text of a value (None is empty)."""
    return "" if value is None else escape(value if isinstance(value, str) else str(value))


class _Page:
    """What rendering one page collects besides its body: the charts, the bytes used."""

    def __init__(self, charts_mode: str, limit: int) -> None:
        self.charts_mode = charts_mode
        self.js_charts: list[str] = []
        self.limit = limit  # bytes the components may take
        self.used = 0  # bytes the components drawn so far take
        self.in_table = 0  # > 0 while drawing a table's cells

    def left(self) -> int:
        return self.limit - self.used

    def check(self, size: int) -> None:
        """Raise :class:`_TooLarge` if a component being drawn is past what is left."""
        if size > self.left():
            raise _TooLarge(size)

    def component(self, comp: Any, depth: int = 0) -> str:
        mark = self.used
        kind = comp.get("type") if isinstance(comp, dict) else None
        try:
            html = self._component(comp, depth)
            size = _nbytes(html)
            self.used = mark
            self.check(size)
        except _TooLarge as exc:
            self.used = mark
            cid = comp.get("id") if isinstance(comp, dict) else None
            named = f"The {kind} component" if isinstance(kind, str) else "A component"
            if isinstance(cid, str):
                named += f" (id {cid})"
            html = _error_box(
                f"{cut(named, 200)} is too large to show",
                f"It would take {'over ' if exc.size > self.left() else ''}{_mib(exc.size)}; "
                f"the card page has {_mib(max(0, self.left()))} left of its "
                f"{_mib(MAX_CARD_BYTES)} budget. Put less in it: fewer rows or columns, "
                "smaller images, charts with fewer data points, shorter text.",
            )
            size = _nbytes(html)
        self.used = mark + size
        return html

    def _component(self, comp: Any, depth: int) -> str:
        if depth > _MAX_DEPTH:
            return _error_box("Components are nested too deep to draw", "")
        if not isinstance(comp, dict):
            return _error_box("A card component is not a dict", safe_repr(comp))
        kind = comp.get("type")
        fn = _RENDERERS.get(kind) if isinstance(kind, str) else None
        if fn is None:
            return _error_box(
                f"Unknown card component type {safe_repr(kind)}",
                "This grange cannot draw it; a newer grange may.",
            )
        try:
            body = fn(self, comp, depth)
        except _TooLarge:
            raise
        except Exception as exc:
            return _error_box(
                f"The {kind} component could not be drawn: {describe_exception(exc)}", ""
            )
        cid = comp.get("id")
        id_attr = f' data-component-id="{_e(cid)}"' if isinstance(cid, str) else ""
        return f'<div class="component {_e(kind)}-component" data-component="{_e(kind)}"{id_attr}>{body}</div>'

    def components(self, comps: Any, depth: int) -> str:
        if not isinstance(comps, list):
            return _error_box("A list of components is not a list", safe_repr(comps))
        return "".join(self.component(c, depth + 1) for c in comps)


def _error_box(title: str, text: str) -> str:
    pre = f"<pre>{_e(cut(text, MAX_LONG_TEXT))}</pre>" if text else ""
    return f'<div class="error" data-testid="card-error"><strong>{_e(title)}</strong>{pre}</div>'


# -- the component types -------------------------------------------------


def _markdown(page: _Page, c: dict[str, Any], depth: int) -> str:
    text = c.get("text")
    text = text if isinstance(text, str) else "" if text is None else str(text)
    parsed = markdown.parse(cut(text, MAX_LONG_TEXT))
    # Reference links repeat their URL in every use: a 200 KB text can ask for
    # gigabytes of HTML. Its size is known from the tokens before it is made.
    if parsed.size > MAX_MARKDOWN_HTML:
        raise _TooLarge(parsed.size)
    page.check(parsed.size)
    return f'<div class="md">{parsed.html()}</div>'


def _cell(page: _Page, value: Any, depth: int) -> str:
    if isinstance(value, dict):
        page.in_table += 1
        try:
            return f"<td>{page.component(value, depth + 1)}</td>"
        finally:
            page.in_table -= 1
    if isinstance(value, bool) or value is None:
        return f"<td>{_e(value)}</td>"
    if isinstance(value, (int, float)):
        return f'<td class="num">{_e(value)}</td>'
    return f"<td>{_e(cut(str(value)))}</td>"


def _table_html(page: _Page, headers: Any, rows: Any, depth: int, index: Any = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers or [])
    if index is not None and head:
        head = "<th></th>" + head
    body = []
    size = len(head)
    for i, row in enumerate(rows or []):
        lead = f"<th>{_e(index[i])}</th>" if index is not None and i < len(index) else ""
        mark = page.used
        html = "<tr>" + lead + "".join(_cell(page, v, depth) for v in row) + "</tr>"
        page.used = mark  # the cells' components are counted in the row
        size += len(html)
        page.check(size)  # as the rows are made, not once they all are
        body.append(html)
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f'<table data-testid="card-table">{thead}<tbody>{"".join(body)}</tbody></table>'


def _more(rows: Any = 0, columns: Any = 0) -> str:
    said = []
    if rows:
        said.append(f"{int(rows):,} more rows")
    if columns:
        said.append(f"{int(columns):,} more columns")
    return f'<div class="more">… {", ".join(said)} not shown</div>' if said else ""


def _table(page: _Page, c: dict[str, Any], depth: int) -> str:
    note = c.get("error")
    error = _error_box(str(note), "") if note else ""
    return (
        error
        + _table_html(page, c.get("headers"), c.get("rows"), depth)
        + _more(c.get("more_rows"), c.get("more_columns"))
    )


def _image(page: _Page, c: dict[str, Any], depth: int) -> str:
    src = c.get("src")
    if not is_image_data_uri(src):
        return _error_box("An image is not a data:image/...;base64 URI", cut(str(src), 200))
    label = c.get("label")
    caption = f"<figcaption>{_e(label)}</figcaption>" if label else ""
    return f'<figure><img src="{src}" alt="{_e(label or "image")}">{caption}</figure>'


def _artifact(page: _Page, c: dict[str, Any], depth: int) -> str:
    name = f'<span class="name">{_e(c.get("name"))}</span> ' if c.get("name") else ""
    summary = f" · {_e(c.get('summary'))}" if c.get("summary") else ""
    return (
        f'<div class="artifact">{name}<span class="tname">{_e(c.get("type_name"))}{summary}</span>'
        f"<pre>{_e(c.get('repr'))}</pre></div>"
    )


def _name(c: dict[str, Any]) -> str:
    return (
        f'<div class="artifact"><span class="name">{_e(c.get("name"))}</span></div>'
        if c.get("name")
        else ""
    )


def _dataframe(page: _Page, c: dict[str, Any], depth: int) -> str:
    shape = c.get("shape") or [0, 0]
    dtypes = ", ".join(f"{d[0]}: {d[1]}" for d in c.get("dtypes") or [])
    head = (
        _name(c) + f'<div class="preview-head">{_e(c.get("type_name") or "DataFrame")} · '
        f"{int(shape[0]):,} rows \u00d7 {int(shape[1]):,} columns</div>"
    )
    types = f"<details><summary>dtypes</summary><pre>{_e(dtypes)}</pre></details>" if dtypes else ""
    table = _table_html(page, c.get("headers"), c.get("rows"), depth, index=c.get("index"))
    return head + types + table + _more(c.get("more_rows"), c.get("more_columns"))


def _array(page: _Page, c: dict[str, Any], depth: int) -> str:
    shape = "\u00d7".join(str(int(n)) for n in c.get("shape") or []) or "scalar"
    stats = c.get("stats") or {}
    facts = [("shape", shape), ("dtype", c.get("dtype"))]
    facts += [(k, v) for k, v in stats.items()]
    values = ", ".join(_e(v) for v in c.get("values") or [])
    if c.get("more_values"):
        values += f", … ({int(c['more_values']):,} more)"
    return (
        _name(c)
        + f'<div class="preview-head">{_e(c.get("type_name") or "array")}</div>'
        + _facts_html(facts)
        + f"<pre>[{values}]</pre>"
    )


def _facts_html(items: Any) -> str:
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    return f'<dl class="facts">{rows}</dl>'


def _facts(page: _Page, c: dict[str, Any], depth: int) -> str:
    return _facts_html([(str(i[0]), i[1]) for i in c.get("items") or []])


def _status(page: _Page, c: dict[str, Any], depth: int) -> str:
    status = str(c.get("status") or "")
    cls = status if status in ("ok", "failed", "running") else ""
    text = f"<pre>{_e(c.get('exception'))}</pre>" if c.get("exception") else ""
    return f'<span class="badge {cls}" data-testid="card-status">{_e(status)}</span>{text}'


def _heading(page: _Page, c: dict[str, Any], depth: int) -> str:
    level = c.get("level") if c.get("level") in (2, 3) else 2
    return f"<h{level}>{_e(c.get('text'))}</h{level}>"


def _section(page: _Page, c: dict[str, Any], depth: int) -> str:
    title = f"<h2>{_e(c.get('title'))}</h2>" if c.get("title") else ""
    return f"<section>{title}{page.components(c.get('components') or [], depth)}</section>"


def _progress(page: _Page, c: dict[str, Any], depth: int) -> str:
    raw_max = c.get("max")
    top = 100.0 if raw_max is None else float(raw_max)
    value = float(c.get("value") or 0)
    if top <= 0:  # max=0: nothing to do, the bar is complete (no division by zero)
        pct = 100.0 if value >= top else 0.0
    else:
        ratio = value / top
        pct = 0.0 if not math.isfinite(ratio) else max(0.0, min(100.0, 100 * ratio))
    unit = f" {_e(c.get('unit'))}" if c.get("unit") else ""
    details = f" · {_e(c.get('details'))}" if c.get("details") else ""
    label = f"<div>{_e(c.get('label'))}</div>" if c.get("label") else ""
    return (
        f'<div class="progress">{label}<div class="bar" role="progressbar" aria-valuenow="{value:g}" '
        f'aria-valuemax="{top:g}"><div class="fill" style="width:{pct:.1f}%"></div></div>'
        f'<div class="text">{value:g} / {top:g}{unit}{details}</div></div>'
    )


def _valuebox(page: _Page, c: dict[str, Any], depth: int) -> str:
    theme = str(c.get("theme") or "default")
    if not theme.replace("-", "").replace("_", "").isalnum():
        theme = "default"
    parts = [f'<div class="vb-title">{_e(c.get("title"))}</div>' if c.get("title") else ""]
    parts.append(f'<div class="vb-value">{_e(c.get("value"))}</div>')
    for key, cls in (("subtitle", "vb-sub"), ("change_indicator", "vb-change")):
        if c.get(key):
            parts.append(f'<div class="{cls}">{_e(c.get(key))}</div>')
    return f'<div class="valuebox {theme}">{"".join(parts)}</div>'


def _code(page: _Page, c: dict[str, Any], depth: int) -> str:
    return f'<pre><code class="language-{_e(c.get("language") or "text")}">{_e(c.get("code"))}</code></pre>'


def _viewer(page: _Page, c: dict[str, Any], depth: int) -> str:
    height = c.get("max_height")
    style = ""
    if isinstance(height, str) and height.replace(".", "").rstrip("pxremvh%").isdigit():
        style = f' style="max-height:{escape(height)}"'
    pre = f"<pre{style}>{_e(c.get('text'))}</pre>"
    title = _e(c.get("title") or ("JSON" if c.get("type") == "json" else "YAML"))
    if c.get("collapsible", True):
        return f"<details open><summary>{title}</summary>{pre}</details>"
    return f"<h3>{title}</h3>{pre}" if c.get("title") else pre


def _error(page: _Page, c: dict[str, Any], depth: int) -> str:
    return _error_box(str(c.get("title") or "Error"), str(c.get("text") or ""))


def _dag(page: _Page, c: dict[str, Any], depth: int) -> str:
    graph = c.get("graph")
    if not isinstance(graph, dict):
        return _error_box("The DAG component has no graph", "")
    svg = dag_svg(graph, highlight=c.get("highlight"), states=c.get("states"), links=c.get("links"))
    return f'<div class="dag" data-testid="dag">{svg}</div>'


def _vega(page: _Page, c: dict[str, Any], depth: int) -> str:
    spec = c.get("spec")
    if not isinstance(spec, dict):
        return _error_box("A chart has no Vega-Lite spec (a dict)", safe_repr(spec))
    spec = charts.clean_spec(spec)
    if page.in_table and (spec.get("width") in (None, "container")):
        # "container" in a cell sized by its content collapses the chart: as
        # Metaflow does inside a table, fit the default width instead.
        spec.pop("width", None)
        spec.setdefault("autosize", {"type": "fit-x", "contains": "padding"})
    n = len(page.js_charts)
    if page.charts_mode == "svg" and charts.have_svg_renderer():
        try:
            return f'<div class="vega-chart" data-testid="vega-chart" data-rendered="svg">{charts.spec_svg(spec)}</div>'
        except ValueError as exc:
            return _error_box("This chart could not be drawn", str(exc))
    box = f"chart-{n}"
    controls = " data-controls" if c.get("show_controls") is True else ""
    if not page.js_charts:  # the Vega build is inlined once, with the first chart
        page.check(len(charts.vega_script()))
        page.limit -= len(charts.vega_script())
    page.js_charts.append(box)
    return (
        f'<div class="vega-chart" data-testid="vega-chart" id="{box}"></div>'
        f'<script type="application/json" data-vega-spec="{box}"{controls}>'
        f"{charts.script_json(spec)}</script>"
    )


_RENDERERS: dict[str, Callable[[_Page, dict[str, Any], int], str]] = {
    "markdown": _markdown,
    "table": _table,
    "image": _image,
    "artifact": _artifact,
    "dataframe": _dataframe,
    "array": _array,
    "facts": _facts,
    "status": _status,
    "heading": _heading,
    "section": _section,
    "progress": _progress,
    "valuebox": _valuebox,
    "code": _code,
    "json": _viewer,
    "yaml": _viewer,
    "error": _error,
    "dag": _dag,
    "vega": _vega,
}


# -- the page ------------------------------------------------------------


def _csp(with_scripts: bool) -> str:
    script = "script-src 'unsafe-inline' 'unsafe-eval'" if with_scripts else "script-src 'none'"
    return (
        f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; {script}; "
        "connect-src 'none'; font-src 'none'; form-action 'none'; base-uri 'none'"
    )


def _page(title: str, meta: str, body: str, scripts: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_csp(bool(scripts))}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_css()}</style></head>"
        f'<body><main><h1 data-testid="card-title">{_e(title)}</h1>'
        f'<div class="card-meta">{meta}</div>{body}</main>{scripts}</body></html>\n'
    )


def render_html(doc: dict[str, Any], *, charts_mode: str | None = None) -> str:
    """The HTML page of a card document; never raises (see the module docstring).

    ``charts_mode`` is ``"js"`` (the default: Vega inlined, drawn by the
    browser) or ``"svg"`` (drawn now by vl-convert when installed); when not
    given, the document's ``options["charts"]`` decides.
    """
    try:
        text = _render(doc, charts_mode)
        data = text.encode("utf-8", "backslashreplace")  # lone surrogates become \udcXX
        if len(data) > MAX_CARD_BYTES:  # the components are counted as drawn: a safety net
            return error_page(
                "This card is too large to show",
                f"Its page would be {_mib(len(data))}; a card page may be at most "
                f"{_mib(MAX_CARD_BYTES)}. Put less on it: fewer or smaller images, "
                "charts with fewer data points, shorter tables.",
            )
        return data.decode("utf-8")
    except Exception as exc:  # a document of the wrong shape
        return error_page("This card could not be drawn", describe_exception(exc))


def _render(doc: dict[str, Any], charts_mode: str | None) -> str:
    if not isinstance(doc, dict):
        raise TypeError(f"a card document is a dict, not {type(doc).__name__}")
    raw = doc.get("options")
    options: dict[str, Any] = raw if isinstance(raw, dict) else {}
    mode = charts_mode or str(options.get("charts") or "js")
    page = _Page(
        mode if mode in ("js", "svg") else "js", MAX_CARD_BYTES - min(_RESERVE, MAX_CARD_BYTES // 4)
    )
    body = page.components(doc.get("components") or [], 0)
    meta = []
    if doc.get("type"):
        meta.append(
            f"{_e(doc.get('type'))} card" + (f" · id {_e(doc.get('id'))}" if doc.get("id") else "")
        )
    created = doc.get("created_at")
    if isinstance(created, (int, float)) and math.isfinite(created):
        # A time no calendar can show (1e300): the meta line goes without it.
        with contextlib.suppress(OverflowError, OSError, ValueError):
            meta.append(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(created)))
    if doc.get("final") is False:
        meta.append('<span class="badge live" data-testid="card-live">live</span>')
    scripts = ""
    if page.js_charts:
        scripts = f"<script>{charts.vega_script()}</script><script>{charts.BOOT}</script>"
    title = cut(str(doc.get("title") or "Card"), 1000)
    return _page(title, " · ".join(meta), body, scripts)


def error_page(title: str, text: str) -> str:
    """A small card page that says what went wrong."""
    page = _page(title, "", _error_box(title, text), "")
    return page.encode("utf-8", "backslashreplace").decode("utf-8")
