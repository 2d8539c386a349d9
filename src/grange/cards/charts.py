"""Vega-Lite charts in a card page: the vendored Vega JavaScript, or SVG from vl-convert.

The default (``"js"``) inlines Vega and Vega-Lite (``static/``, BSD-3-Clause,
refetched by ``scripts/vendor_vega.sh``) once per page that has charts, and
each chart's spec as JSON that cannot close its ``<script>`` element. The
option ``"svg"`` renders each spec to SVG with ``vl-convert-python`` when the
page is rendered (an optional dependency; without it, the JS way is used).
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_UNSAFE_TAGS = {"script", "foreignobject", "image", "iframe", "object", "embed", "use"}


def script_json(value: Any) -> str:
    """JSON for inside a ``<script>`` element: no ``<``, ``>`` or ``&`` left to close it."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=str)
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_ESCAPES[m.group(0)], text)


@functools.lru_cache(maxsize=1)
def vega_script() -> str:
    """The vendored Vega and Vega-Lite builds, one after the other."""
    static = resources.files("grange.cards") / "static"
    parts = [
        (static / name).read_text(encoding="utf-8") for name in ("vega.min.js", "vega-lite.min.js")
    ]
    text = "\n".join(parts)
    if "</script" in text.lower():  # scripts/vendor_vega.sh checks it too
        raise RuntimeError("the vendored Vega build contains '</script' and cannot be inlined")
    return text


#: Run once at the end of a page with charts: draws each chart into its container.
BOOT = """
(function () {
  document.querySelectorAll("[data-vega-spec]").forEach(function (el) {
    var box = document.getElementById(el.getAttribute("data-vega-spec"));
    var loader = vega.loader();
    loader.load = function (uri) {
      var e = new Error("a card loads no URL (" + uri + "): put the data in the spec");
      fail(box, e);
      return Promise.reject(e);
    };
    try {
      var spec = JSON.parse(el.textContent);
      var vg = spec.$schema && /\\/vega\\/v/.test(spec.$schema) ? spec : vegaLite.compile(spec).spec;
      var view = new vega.View(vega.parse(vg), {renderer: "svg", container: box, hover: true, loader: loader});
      view.runAsync().then(function () {
        if (!box.hasAttribute("data-rendered")) box.setAttribute("data-rendered", "true");
        if (el.hasAttribute("data-controls")) controls(box, view);
      }).catch(function (e) { fail(box, e); });
    } catch (e) { fail(box, e); }
  });
  function controls(box, view) {
    // show_controls=True: save the chart as SVG or PNG (no menu library needed).
    var bar = document.createElement("div");
    bar.className = "chart-controls";
    ["svg", "png"].forEach(function (kind) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = "Save " + kind.toUpperCase();
      b.setAttribute("data-testid", "chart-save-" + kind);
      b.onclick = function () {
        view.toImageURL(kind, kind === "png" ? 2 : 1).then(function (url) {
          var a = document.createElement("a");
          a.href = url;
          a.download = "chart." + kind;
          document.body.appendChild(a);
          a.click();
          a.remove();
        });
      };
      bar.appendChild(b);
    });
    box.parentNode.insertBefore(bar, box.nextSibling);
  }
  function fail(box, e) {
    // Beside the chart's box, not in it: Vega empties its box when it draws.
    if (box.getAttribute("data-rendered") === "error") return;
    box.setAttribute("data-rendered", "error");
    var p = document.createElement("pre");
    p.className = "chart-error";
    p.setAttribute("data-testid", "chart-error");
    p.textContent = "This chart could not be drawn: " + (e && e.message ? e.message : e);
    box.parentNode.insertBefore(p, box.nextSibling);
  }
})();
"""


def have_svg_renderer() -> bool:
    """Whether ``vl-convert-python`` can be imported (for ``charts="svg"``)."""
    import importlib.util

    return importlib.util.find_spec("vl_convert") is not None


def spec_svg(spec: dict[str, Any]) -> str:
    """The SVG of a Vega-Lite spec from vl-convert; raises ValueError when it cannot."""
    import vl_convert

    try:
        svg = str(vl_convert.vegalite_to_svg(spec, allowed_base_urls=[]))
    except TypeError:  # older vl-convert without allowed_base_urls
        svg = str(vl_convert.vegalite_to_svg(spec))
    except Exception as exc:
        raise ValueError(f"vl-convert could not render the chart: {exc}") from None
    start = svg.find("<svg")
    if start < 0 or not _inert(svg[start:]):
        raise ValueError("vl-convert gave an SVG that a card does not inline")
    return svg[start:]


def _inert(svg: str) -> bool:
    """Whether an SVG has no script, event handler, link or external resource."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(svg)
    except ET.ParseError:
        return False
    for el in root.iter():
        tag = str(el.tag).rsplit("}", 1)[-1].lower()
        if tag in _UNSAFE_TAGS or tag == "a":
            return False
        for name, value in el.attrib.items():
            attr = name.rsplit("}", 1)[-1].lower()
            if (
                attr.startswith("on")
                or attr == "href"
                or (
                    "url(" in value.replace(" ", "").lower()
                    and "url(#" not in value.replace(" ", "").lower()
                )
            ):
                return False
    return True
