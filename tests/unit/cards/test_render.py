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


def test_page_over_the_size_cap_becomes_an_error_page(monkeypatch: pytest.MonkeyPatch) -> None:
    from grange.cards import render

    monkeypatch.setattr(render, "MAX_CARD_BYTES", 10_000)
    html = render_html(doc(Markdown("word " * 5000)))
    assert "This card is too large to show" in html
    assert "word word" not in html and len(html) < 10_000


def test_live_document_is_marked() -> None:
    assert 'data-testid="card-live"' in render_html(doc(final=False))
    assert 'data-testid="card-live"' not in render_html(doc())


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
