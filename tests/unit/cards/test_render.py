"""The card page: self-contained, offline, every user string escaped, within its budget."""

from __future__ import annotations

import re
from typing import Any

import pytest

from grange.cards import JSONViewer, Markdown, Table, VegaChart, YAMLViewer
from grange.cards.components import render_component
from grange.cards.render import render_html

XSS = '<script>window.pwned=1</script>"><img src=x onerror="window.pwned=1">'


def doc(*components: Any, **fields: Any) -> dict[str, Any]:
    out = {
        "version": 1,
        "type": "blank",
        "id": None,
        "title": "t",
        "created_at": 0.0,
        "final": True,
        "components": [render_component(c) for c in components],
    }
    out.update(fields)
    return out


def scripts(html: str) -> list[str]:
    return re.findall(r"<script\b[^>]*>", html)


def test_no_external_url_and_a_csp_that_forbids_network() -> None:
    html = render_html(doc(Markdown("# hi"), Table([[1]])))
    assert "default-src 'none'" in html and "img-src data:" in html
    assert "script-src 'none'" in html  # no chart: no script may run
    assert not scripts(html)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)


def test_title_and_every_text_field_are_escaped() -> None:
    comps = [
        Markdown(XSS),
        Table([[XSS, Markdown(XSS)]], headers=[XSS]),
        JSONViewer({"k": XSS}, title=XSS),
        YAMLViewer({"k": XSS}),
        {"type": "artifact", "name": XSS, "type_name": XSS, "repr": XSS},
        {"type": "error", "title": XSS, "text": XSS},
        {"type": "valuebox", "title": XSS, "value": XSS, "subtitle": XSS, "theme": XSS},
        {"type": "progress", "label": XSS, "unit": XSS, "details": XSS, "max": 1, "value": 1},
        {"type": "code", "code": XSS, "language": XSS},
        {"type": "facts", "items": [[XSS, XSS]]},
        {"type": "status", "status": XSS, "exception": XSS},
        {"type": "section", "title": XSS, "components": [{"type": "heading", "text": XSS}]},
        {"type": XSS},
    ]
    html = render_html(doc(*comps, title=XSS, id=XSS))
    assert "<script>window" not in html
    assert "<img src=x" not in html and 'onerror="' not in html
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    assert not scripts(html)


def test_markdown_refuses_html_and_script_links_and_remote_images() -> None:
    html = render_html(
        doc(
            Markdown(
                "[a](javascript:alert(1)) [b](JAVASCRIPT:x) [c](vbscript:x) [ok](https://example.org/x) "
                "![pic](https://example.org/p.png) <b>raw</b>"
            )
        )
    )
    assert 'href="javascript' not in html.lower() and "vbscript:" not in html.replace(
        "(vbscript:x)", ""
    )
    assert '<a href="https://example.org/x">ok</a>' in html
    assert "example.org/p.png" not in html and "[image: pic]" in html
    assert "&lt;b&gt;raw&lt;/b&gt;" in html


def test_a_chart_spec_cannot_close_its_script_element() -> None:
    spec = {
        "mark": "point",
        "data": {"values": [{"a": "</script><script>window.pwned=1</script>"}]},
    }
    html = render_html(doc(VegaChart(spec)))
    assert html.count("</script>") == len(scripts(html)) == 3  # vega+vega-lite, boot, the spec
    assert "window.pwned=1</script>" not in html
    assert "\\u003c/script\\u003e" in html
    assert "script-src 'unsafe-inline'" in html


def test_unknown_and_malformed_components_render_as_error_boxes() -> None:
    html = render_html(
        doc(
            {"type": "hologram"},
            {"nope": 1},
            {"type": "table", "rows": 5},
            {"type": "image", "src": "https://example.org/x.png"},
            {"type": "image", "src": 'data:image/png;base64,AAA" onerror="x'},
        )
    )
    assert html.count('data-testid="card-error"') == 5
    assert "example.org" in html and 'src="https://' not in html
    assert "Unknown card component type &#x27;hologram&#x27;" in html


def test_a_document_of_the_wrong_shape_is_an_error_page() -> None:
    assert "could not be drawn" in render_html([1, 2])  # type: ignore[arg-type]
    assert "could not be drawn" in render_html(doc(components="x")) or "not a list" in render_html(
        doc(components="x")
    )


def test_deeply_nested_components_do_not_recurse_forever() -> None:
    comp: dict[str, Any] = {"type": "markdown", "text": "x"}
    for _ in range(100):
        comp = {"type": "section", "title": "s", "components": [comp]}
    assert "nested too deep" in render_html(doc(comp))


def test_fixed_overhead_of_a_page_without_charts_is_small() -> None:
    html = render_html(doc(Markdown("x")))
    assert len(html.encode()) < 8 * 1024


def test_an_oversized_component_is_replaced_and_the_rest_of_the_card_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from grange.cards import render

    monkeypatch.setattr(render, "MAX_CARD_BYTES", 40_000)
    html = render_html(
        doc(Markdown("before"), Markdown("word " * 10_000), Markdown("after"), title="My card")
    )
    assert "The markdown component is too large to show" in html
    assert "word word" not in html and len(html) < 40_000
    assert "before" in html and "after" in html and "My card" in html
    assert "of its 39 KB budget" in html


def test_a_table_is_cut_off_as_its_rows_are_made_not_once_all_are() -> None:
    import tracemalloc

    cell = "x" * 2000  # one string in every cell: the table costs little memory, its HTML ~400 MB
    comp = {"type": "table", "headers": ["c"] * 200, "rows": [[cell] * 200] * 1000}
    tracemalloc.start()
    try:
        html = render_html(doc(Markdown("kept"), comp))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "The table component is too large to show" in html and "kept" in html
    assert peak < 150 * 2**20, peak


def test_markdown_reference_links_cannot_blow_up_the_page() -> None:
    import tracemalloc

    text = "[r]: /" + "a" * 60_000 + "\n\n" + "[x][r]" * 23_000  # ~1.4 GB of HTML if made
    tracemalloc.start()
    try:
        html = render_html(doc(Markdown("kept"), Markdown(text)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "The markdown component is too large to show" in html and "kept" in html
    assert peak < 100 * 2**20, peak
    small = render_html(doc(Markdown("[r]: /u\n\n" + "[x][r] " * 100)))
    assert small.count('<a href="/u">x</a>') == 100


def test_lone_surrogates_and_malformed_documents_never_raise() -> None:
    import random

    odd: list[Any] = [
        "caf\udce9",
        "\ud800",
        "x\udcff<b>",
        1e300,
        -1e300,
        float("nan"),
        float("inf"),
        None,
        [],
        {},
        [1, "\ud800"],
        {"\ud800": 1},
        2**80,
        True,
        "",
    ]
    types = [
        "markdown", "table", "image", "artifact", "dataframe", "array", "facts", "status",
        "heading", "section", "progress", "valuebox", "code", "json", "yaml", "error", "dag",
        "vega", "\ud800",
    ]  # fmt: skip
    fields = [
        "text", "headers", "rows", "src", "label", "name", "type_name", "repr", "shape",
        "dtypes", "index", "stats", "values", "items", "status", "exception", "level", "title",
        "components", "max", "value", "unit", "details", "theme", "code", "language",
        "max_height", "graph", "highlight", "states", "links", "spec", "id", "more_rows",
    ]  # fmt: skip
    rng = random.Random(13)
    for _ in range(600):
        comp: dict[str, Any] = {"type": rng.choice(types)}
        for name in rng.sample(fields, 5):
            comp[name] = rng.choice(odd)
        if rng.random() < 0.3:
            comp["rows"] = [[rng.choice(odd), comp]]
        d = doc(comp)
        d[rng.choice(["title", "id", "created_at", "type", "final", "options"])] = rng.choice(odd)
        html = render_html(d)
        html.encode("utf-8")  # what is written to a file: no lone surrogate left
    page = render_html(doc(Markdown("caf\udce9"), title="\ud800"))
    assert "caf\\udce9" in page and "\\ud800" in page


def test_a_time_no_calendar_can_show_drops_only_the_meta_line() -> None:
    html = render_html(doc(Markdown("hello"), created_at=1e300))
    assert "hello" in html and "could not be drawn" not in html


def test_live_document_is_marked() -> None:
    assert 'data-testid="card-live"' in render_html(doc(final=False))
    assert 'data-testid="card-live"' not in render_html(doc())


def test_nan_and_infinity_in_a_chart_spec_become_null() -> None:
    spec = {"mark": "point", "data": {"values": [{"a": float("nan"), "b": float("inf")}]}}
    out = render_component(VegaChart(spec))
    assert out["spec"]["data"]["values"] == [{"a": None, "b": None}]
    raw = {"type": "vega", "spec": spec}  # a document made elsewhere
    html = render_html(doc(raw))
    assert '[{"a": null, "b": null}]' in html and 'data-testid="card-error"' not in html


def test_a_chart_cannot_link_anywhere() -> None:
    spec = {
        "mark": {"type": "bar", "href": "http://evil.example/"},
        "usermeta": {"embedOptions": {"loader": {"baseURL": "http://evil.example/"}}},
        "data": {"values": [{"a": 1, "href": "http://kept.example/"}]},
        "encoding": {"x": {"field": "a"}, "href": {"field": "href"}},
    }
    html = render_html(doc(VegaChart(spec)))
    assert "evil.example" not in html
    assert "kept.example" in html  # data is kept whatever its field names
    assert "loader.sanitize" in html  # and Vega's loader refuses to open a link


def test_a_chart_inside_a_table_fits_its_cell() -> None:
    spec = {"mark": "point", "data": {"values": [{"a": 1}]}}
    out = Table([[VegaChart(spec)]]).render()
    assert "width" not in out["rows"][0][0]["spec"]
    assert out["rows"][0][0]["spec"]["autosize"]["type"] == "fit-x"
    raw = {"type": "table", "rows": [[{"type": "vega", "spec": dict(spec, width="container")}]]}
    html = render_html(doc(raw))
    assert '"width": "container"' not in html and '"fit-x"' in html


def test_charts_as_svg_with_vl_convert() -> None:
    pytest.importorskip("vl_convert")
    spec = {
        "mark": "bar",
        "data": {"values": [{"a": 1, "b": "<script>"}]},
        "encoding": {
            "x": {"field": "a", "type": "quantitative"},
            "y": {"field": "b", "type": "nominal"},
        },
    }
    html = render_html(doc(VegaChart(spec), options={"charts": "svg"}))
    assert not scripts(html) and "<svg" in html and 'data-rendered="svg"' in html
    assert "<script>" not in html.split("<body>", 1)[1]


def test_markdown_data_links_only_for_images() -> None:
    html = render_html(
        doc(Markdown("[x](data:text/html;base64,PHNjcmlwdD4=) [y](data:image/svg+xml,<svg>)"))
    )
    assert 'href="data:' not in html


def test_image_src_must_be_exactly_a_data_uri() -> None:
    good = "data:image/png;base64,AAAA"
    assert '<img src="data:image/png;base64,AAAA"' in render_html(
        doc({"type": "image", "src": good})
    )
    for bad in (good + "\n", good + '"', "data:image/svg+xml;base64,AAAA", " " + good):
        assert 'data-testid="card-error"' in render_html(doc({"type": "image", "src": bad})), bad
