"""A card document as ONE self-contained HTML page.

:func:`render_html` is a pure function of the document: it runs no user code,
loads nothing from the network (a Content-Security-Policy forbids it), escapes
every string, and never raises: a component it cannot draw (of an unknown
type, or with fields of the wrong shape) becomes an error box, and a page past
:data:`~grange.cards._limits.MAX_CARD_BYTES` becomes an error page.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from html import escape
from importlib import resources
from typing import Any

from grange.cards import charts
from grange.cards._limits import MAX_CARD_BYTES, MAX_LONG_TEXT, cut, safe_repr
from grange.cards.dag import dag_svg
from grange.cards.images import is_image_data_uri

_MAX_DEPTH = 12


@functools.lru_cache(maxsize=1)
def _css() -> str:
    return (resources.files("grange.cards") / "static" / "card.css").read_text(encoding="utf-8")


def _e(value: Any) -> str:
    """Escaped text of a value (None is empty)."""
    return "" if value is None else escape(value if isinstance(value, str) else str(value))


class _Page:
    """What rendering one page collects besides its body: the charts."""

    def __init__(self, charts_mode: str) -> None:
        self.charts_mode = charts_mode
        self.js_charts: list[str] = []

    def component(self, comp: Any, depth: int = 0) -> str:
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
        except Exception as exc:
            return _error_box(
                f"The {_e(kind)} component could not be drawn: {type(exc).__name__}: {exc}", ""
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


@functools.lru_cache(maxsize=1)
def _markdown_it() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.enable("strikethrough")
    md.validateLink = _safe_link  # type: ignore[method-assign]

    def image(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        src = str(token.attrGet("src") or "")
        alt = "".join(t.content for t in (token.children or []))
        if is_image_data_uri(src):
            return f'<img src="{escape(src)}" alt="{escape(alt)}">'
        return f'<span class="md-image" title="images from URLs are not loaded">[image: {escape(alt)}]</span>'

    md.add_render_rule("image", image)
    return md


def _safe_link(url: str) -> bool:
    low = url.strip().lower()
    if low.startswith(("http://", "https://", "mailto:", "#", "/", "./", "../")):
        return True
    if low.startswith("data:"):
        return is_image_data_uri(url.strip())  # an inline image, never data:text/html
    return ":" not in low.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]


def _markdown(page: _Page, c: dict[str, Any], depth: int) -> str:
    return f'<div class="md">{_markdown_it().render(str(c.get("text") or ""))}</div>'


def _cell(page: _Page, value: Any, depth: int) -> str:
    if isinstance(value, dict):
        return f"<td>{page.component(value, depth + 1)}</td>"
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
    for i, row in enumerate(rows or []):
        lead = f"<th>{_e(index[i])}</th>" if index is not None and i < len(index) else ""
        body.append("<tr>" + lead + "".join(_cell(page, v, depth) for v in row) + "</tr>")
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
    return _table_html(page, c.get("headers"), c.get("rows"), depth) + _more(c.get("more_rows"))


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
    top, value = float(c.get("max") or 100), float(c.get("value") or 0)
    pct = 0.0 if not math.isfinite(value / top) else max(0.0, min(100.0, 100 * value / top))
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
    n = len(page.js_charts)
    if page.charts_mode == "svg" and charts.have_svg_renderer():
        try:
            return f'<div class="vega-chart" data-testid="vega-chart" data-rendered="svg">{charts.spec_svg(spec)}</div>'
        except ValueError as exc:
            return _error_box("This chart could not be drawn", str(exc))
    box = f"chart-{n}"
    controls = " data-controls" if c.get("show_controls") is True else ""
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
    except Exception as exc:  # a document of the wrong shape
        return error_page("This card could not be drawn", f"{type(exc).__name__}: {exc}")
    size = len(text.encode("utf-8"))
    if size > MAX_CARD_BYTES:
        return error_page(
            "This card is too large to show",
            f"Its page would be {size / 2**20:.1f} MiB; a card page may be at most "
            f"{MAX_CARD_BYTES / 2**20:g} MiB. Put less on it: fewer or smaller images, "
            "charts with fewer data points, shorter tables.",
        )
    return text


def _render(doc: dict[str, Any], charts_mode: str | None) -> str:
    if not isinstance(doc, dict):
        raise TypeError(f"a card document is a dict, not {type(doc).__name__}")
    raw = doc.get("options")
    options: dict[str, Any] = raw if isinstance(raw, dict) else {}
    mode = charts_mode or str(options.get("charts") or "js")
    page = _Page(mode if mode in ("js", "svg") else "js")
    body = page.components(doc.get("components") or [], 0)
    meta = []
    if doc.get("type"):
        meta.append(
            f"{_e(doc.get('type'))} card" + (f" · id {_e(doc.get('id'))}" if doc.get("id") else "")
        )
    created = doc.get("created_at")
    if isinstance(created, (int, float)) and math.isfinite(created):
        meta.append(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(created)))
    if doc.get("final") is False:
        meta.append('<span class="badge live" data-testid="card-live">live</span>')
    scripts = ""
    if page.js_charts:
        scripts = f"<script>{charts.vega_script()}</script><script>{charts.BOOT}</script>"
    title = str(doc.get("title") or "Card")
    return _page(title, " · ".join(meta), body, scripts)


def error_page(title: str, text: str) -> str:
    """A small card page that says what went wrong."""
    return _page(title, "", _error_box(title, text), "")
