"""Chart plumbing: JSON that cannot close a script element, the vendored build, inert SVG."""

from __future__ import annotations

import json

import pytest

from grange.cards import charts


def test_script_json_escapes_what_could_close_the_element() -> None:
    value = {"a": "</script><!-- & \u2028"}
    text = charts.script_json(value)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == value


def test_vendored_vega_is_shipped_with_its_licences() -> None:
    from importlib import resources

    static = resources.files("grange.cards") / "static"
    for name in (
        "vega.min.js",
        "vega-lite.min.js",
        "vega.LICENSE",
        "vega-lite.LICENSE",
        "VERSIONS.txt",
        "THIRD-PARTY-NOTICES",
    ):
        assert (static / name).is_file(), name
    # The builds bundle d3 modules (ISC) and others: each is named with its licence text.
    notices = (static / "THIRD-PARTY-NOTICES").read_text(encoding="utf-8")
    versions = dict(line.split() for line in (static / "VERSIONS.txt").read_text().splitlines())
    for package in (
        f"vega {versions['vega']} (BSD-3-Clause)",
        f"vega-lite {versions['vega-lite']} (BSD-3-Clause)",
        "d3-array ",
        "d3-scale ",
        "d3-shape ",
        "d3-geo ",
        "d3-format ",
        "d3-time-format ",
        "internmap ",
        "delaunator ",
        "robust-predicates ",
        "topojson-client ",
    ):
        assert f"\n{package}" in notices, package
    assert "ISC License" in notices or "Permission to use, copy, modify" in notices
    assert "\nyargs " not in notices  # the command-line tools' dependencies are not bundled
    script = charts.vega_script()
    assert "</script" not in script.lower() and len(script) > 500_000


def test_only_inert_svg_is_inlined() -> None:
    assert charts._inert(
        '<svg xmlns="http://www.w3.org/2000/svg"><text>&lt;script&gt; onclick=</text></svg>'
    )
    for bad in (
        '<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><rect onclick="x"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink"><a x:href="javascript:x"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><image href="https://e.org/x.png"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill:url(https://e.org/x)"/></svg>',
        "<svg",
    ):
        assert not charts._inert(bad), bad


def test_spec_svg_from_vl_convert() -> None:
    pytest.importorskip("vl_convert")
    svg = charts.spec_svg(
        {
            "mark": "point",
            "data": {"values": [{"a": 1}]},
            "encoding": {"x": {"field": "a", "type": "quantitative"}},
        }
    )
    assert svg.startswith("<svg") and charts._inert(svg)
    with pytest.raises(ValueError, match="vl-convert could not render"):
        charts.spec_svg({"mark": "nonsense-mark"})
