"""Card components: their dicts, update(), argument errors, and failures kept on the card."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from grange.cards import (
    Artifact,
    CardComponent,
    Error,
    Image,
    JSONViewer,
    Markdown,
    MetaflowCardComponent,
    ProgressBar,
    PythonCode,
    Table,
    ValueBox,
    VegaChart,
    YAMLViewer,
)
from grange.cards.components import render_component
from grange.cards.render import render_html


def doc_of(*components: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "type": "blank", "title": "t", "components": list(components)}


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def test_metaflow_name_is_the_base_class() -> None:
    assert MetaflowCardComponent is CardComponent


def test_markdown_dedents_and_updates() -> None:
    md = Markdown("""
        # Title
        - item
    """)
    assert md.render() == {"type": "markdown", "text": "\n# Title\n- item\n"}
    md.update("new")
    assert md.render()["text"] == "new"
    bad = render_component(Markdown(3))  # type: ignore[arg-type]
    assert bad["type"] == "error" and "Markdown(text=...) must be a str" in bad["title"]


def test_table_rows_hold_values_and_components() -> None:
    table = Table([[1, "a", Markdown("**b**"), None, 2.5, float("nan"), {"x": 1}]], headers=["n"])
    out = table.render()
    assert out["headers"] == ["n"]
    row = out["rows"][0]
    assert row[:2] == [1, "a"]
    assert row[2] == {"type": "markdown", "text": "**b**"}
    assert row[3:6] == [None, 2.5, "nan"]
    assert row[6] == "{'x': 1}"  # a plain dict is a value, shown by its repr
    json.dumps(out)


def test_table_of_what_is_not_rows_is_empty_and_says_why() -> None:
    # As Metaflow: no exception in the step, an empty table (and the card says why).
    for table in (Table(data=[1, 2]), Table(data="abc")):  # type: ignore[arg-type]
        out = table.render()
        assert out["rows"] == [] and "must be a list of rows" in out["error"]
    out = Table([[1]], headers="ab").render()  # type: ignore[arg-type]
    assert out["headers"] == [] and out["rows"] == [[1]] and "Table(headers=...)" in out["error"]
    assert 'data-testid="card-error"' in render_html(doc_of(out))
    with pytest.warns(UserWarning, match="Table has no update"):
        Table().update([[1]])
    assert Table.from_dataframe([1]).render()["headers"] == ["Object type list not supported"]


def test_table_is_cut_at_its_row_limit() -> None:
    from grange.cards._limits import MAX_TABLE_ROWS

    out = Table([[i] for i in range(MAX_TABLE_ROWS + 5)]).render()
    assert len(out["rows"]) == MAX_TABLE_ROWS
    assert out["more_rows"] == 5


def test_table_from_dataframe_truncates() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": range(1000), "b": ["x"] * 1000})
    out = Table.from_dataframe(frame).render()
    assert out["headers"] == ["a", "b"]
    assert len(out["rows"]) == 20 and out["more_rows"] == 980
    assert out["rows"][0] == [0, "x"]  # NumPy scalars become plain values


def test_table_from_a_wide_dataframe_cuts_columns_too() -> None:
    import time

    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    from grange.cards._limits import MAX_CARD_BYTES, MAX_TABLE_CELLS, MAX_TABLE_COLUMNS

    wide = pd.DataFrame(np.zeros((20, 10_000)))
    out = Table.from_dataframe(wide).render()
    assert len(out["headers"]) == 30 and all(len(r) == 30 for r in out["rows"])
    assert out["more_columns"] == 10_000 - 30 and out["more_rows"] == 0
    assert "9,970 more columns" in render_html(doc_of(out))
    big = pd.DataFrame(np.zeros((2000, 10_000)))
    started = time.perf_counter()
    full = Table.from_dataframe(big, truncate=False).render()
    html = render_html(doc_of(full))
    elapsed = time.perf_counter() - started
    assert len(full["headers"]) == MAX_TABLE_COLUMNS
    assert sum(len(r) for r in full["rows"]) <= MAX_TABLE_CELLS
    assert full["more_rows"] == 2000 - len(full["rows"])
    assert len(html.encode()) < MAX_CARD_BYTES and "too large" not in html
    print(f"2000x10000 truncate=False: {elapsed:.2f} s")
    # a Table of plain rows is cut the same way
    plain = Table([[0] * 5000] * 3).render()
    assert len(plain["rows"][0]) == MAX_TABLE_COLUMNS and plain["more_columns"] == 4800


def test_image_sniffs_bytes_and_base64() -> None:
    out = Image(PNG, label="dot").render()
    assert out["src"].startswith("data:image/png;base64,") and out["label"] == "dot"
    assert Image(base64.b64encode(PNG).decode()).render()["src"] == out["src"]
    assert Image(b"\xff\xd8\xff\xe0rest").render()["src"].startswith("data:image/jpeg;")
    assert Image().render()["type"] == "error"


def test_an_image_that_is_not_one_is_an_error_box_not_an_exception() -> None:
    from grange.cards._limits import MAX_IMAGE_BYTES

    svg = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_IMAGE_BYTES
    cases = [
        (b"<html>404</html>", "not a PNG, JPEG"),
        (svg, "not a PNG, JPEG"),
        (big, "a card image may be at most"),
        ("not base64!", "not base64"),
        (3, "must be PNG/JPEG/GIF/WebP bytes"),
    ]
    for src, said in cases:
        out = render_component(Image(src))  # type: ignore[arg-type]
        assert out["type"] == "error" and said in out["title"], (src[:20], out)
    assert render_component(Image.from_matplotlib("fig"))["type"] == "error"
    assert render_component(Image.from_pil_image("img"))["type"] == "error"
    img = Image(PNG, disable_updates=False)
    img.update(b"nope")
    assert render_component(img)["type"] == "error"
    img.update(PNG)
    assert render_component(img)["type"] == "image"


def test_image_update_and_disable_updates() -> None:
    img = Image(PNG, disable_updates=False)
    img.update(b"\xff\xd8\xff\xe0x", label="new")
    assert img.render()["src"].startswith("data:image/jpeg") and img.render()["label"] == "new"
    frozen = Image(PNG)  # Metaflow's default: an Image from bytes is not updated
    with pytest.warns(UserWarning, match="cannot be updated"):
        frozen.update(b"\xff\xd8\xff\xe0x")
    assert frozen.render()["src"].startswith("data:image/png")


def test_image_from_pil_and_matplotlib() -> None:
    pil = pytest.importorskip("PIL.Image")
    out = Image.from_pil_image(pil.new("RGB", (4, 4), "red"), label="red").render()
    assert out["src"].startswith("data:image/png;base64,")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([1, 2])
    assert Image.from_matplotlib(fig).render()["src"].startswith("data:image/png")
    assert Image.from_matplotlib(ax).render()["src"].startswith("data:image/png")
    plt.close(fig)
    assert "needs a matplotlib Figure" in Image.from_matplotlib("fig").render()["title"]
    assert "needs a PIL image" in Image.from_pil_image("img").render()["title"]


def test_artifact_is_a_truncated_repr() -> None:
    out = Artifact(list(range(1000)), name="xs").render()
    assert out["name"] == "xs" and out["type_name"] == "list"
    assert out["repr"].endswith("...]") and len(out["repr"]) < 300
    full = Artifact(list(range(1000)), compressed=False).render()
    assert "999" in full["repr"]


def test_artifact_whose_repr_raises() -> None:
    class Bad:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert "Bad instance" in Artifact(Bad()).render()["repr"]
    assert (
        "repr() raised RuntimeError: no repr" in Artifact(Bad(), compressed=False).render()["repr"]
    )


def test_vega_chart_from_dict_and_altair() -> None:
    spec = {"mark": "bar", "data": {"values": [{"a": 1}]}, "encoding": {"x": {"field": "a"}}}
    out = VegaChart(spec).render()
    assert out["type"] == "vega" and out["spec"]["width"] == "container"
    assert out["show_controls"] is False
    alt = pytest.importorskip("altair")
    chart = alt.Chart(alt.Data(values=[{"a": 1}])).mark_bar().encode(x="a:Q")
    assert VegaChart.from_altair_chart(chart).render()["spec"]["mark"]["type"] == "bar"
    chart2 = VegaChart(spec)
    chart2.update(chart)
    assert chart2.render()["spec"]["mark"]["type"] == "bar"
    with pytest.raises(TypeError, match="is not an Altair chart"):
        VegaChart.from_altair_chart(spec)
    bad = render_component(VegaChart("bar"))  # type: ignore[arg-type]
    assert bad["type"] == "error" and "VegaChart(spec=...) must be a Vega-Lite spec" in bad["title"]


def test_vega_chart_with_non_json_data_becomes_an_error() -> None:
    out = render_component(VegaChart({"data": {"values": [object()]}}))
    assert out["type"] == "error" and "not JSON" in out["title"]


def test_progress_bar() -> None:
    bar = ProgressBar(max=10, label="load", unit="files")
    bar.update(4, metadata="2/s")
    assert bar.render() == {
        "type": "progress",
        "max": 10,
        "value": 4,
        "label": "load",
        "unit": "files",
        "details": "2/s",
    }
    bar.update("3")  # type: ignore[arg-type]
    bad = render_component(bar)
    assert bad["type"] == "error" and "ProgressBar(value=...) must be a number" in bad["title"]


def test_progress_bar_takes_numpy_numbers_and_max_zero() -> None:
    np = pytest.importorskip("numpy")
    bar = ProgressBar(max=np.int64(10), value=np.float32(1))
    assert bar.render()["max"] == 10 and bar.render()["value"] == 1.0
    bar.update(np.int64(3))
    out = bar.render()
    assert out["value"] == 3 and type(out["value"]) is int and type(out["max"]) is int
    json.dumps(out)
    empty = render_component(ProgressBar(max=0))
    assert empty["type"] == "progress"
    html = render_html(doc_of(empty))
    assert 'style="width:100.0%"' in html and "0 / 0" in html


def test_value_box_validates_and_updates() -> None:
    box = ValueBox(title="Revenue", value=3, theme="success")
    box.update(value=5, change_indicator="up")
    out = box.render()
    assert out["value"] == 5 and out["title"] == "Revenue" and out["theme"] == "success"
    assert out["change_indicator"] == "up"
    with pytest.raises(ValueError, match="200 characters or less"):
        ValueBox(title="x" * 201)
    with pytest.raises(ValueError, match="must be a CSS class name"):
        ValueBox(value=1, theme='x" onclick="y')
    with pytest.raises(TypeError, match=r"ValueBox\(value=...\)"):
        ValueBox(value=[1])  # type: ignore[arg-type]


def test_python_code() -> None:
    def sample() -> int:
        return 1

    assert "def sample" in PythonCode(sample).render()["code"]
    assert PythonCode(code_string="x = 1").render() == {
        "type": "code",
        "language": "python",
        "code": "x = 1",
    }
    out = render_component(PythonCode())  # an error box on the card, not an exception here
    assert out["type"] == "error" and "needs code_func" in out["title"]
    assert render_component(PythonCode(code_func=len))["type"] == "error"  # no source


def test_json_and_yaml_viewers() -> None:
    data: dict[str, Any] = {"a": [1, 2], "when": object()}
    j = JSONViewer(data, title="cfg").render()
    assert j["type"] == "json" and '"a": [' in j["text"] and "object object" in j["text"]
    y = YAMLViewer({"a": [1, 2]}, max_height="300px").render()
    assert y["type"] == "yaml" and y["text"] == "a:\n- 1\n- 2\n" and y["max_height"] == "300px"
    bad = render_component(YAMLViewer({}, max_height="1px;background:url(x)"))
    assert bad["type"] == "error" and "must be a CSS length" in bad["title"]


def test_viewers_of_json_and_yaml_text_as_metaflow() -> None:
    assert JSONViewer('{"a": 1}').render()["text"] == '{\n  "a": 1\n}'
    assert JSONViewer("not json").render()["text"] == '"not json"'
    assert YAMLViewer("a: 1\nb: [1,2]").render()["text"] == "a: 1\nb: [1,2]"  # as it is
    assert YAMLViewer('{"a": [1, 2]}').render()["text"] == "a:\n- 1\n- 2\n"


def test_error_keeps_the_traceback() -> None:
    try:
        raise ValueError("bad thing")
    except ValueError as exc:
        out = Error(exc, "It failed").render()
    assert out["type"] == "error" and out["title"] == "It failed"
    assert "Traceback" in out["text"] and "ValueError: bad thing" in out["text"]
    assert Error(KeyError("k")).render()["text"] == "KeyError('k')"


def test_an_exception_whose_str_raises_is_described() -> None:
    class Nasty(Exception):
        def __str__(self) -> str:
            raise AttributeError("no")

    class Broken(CardComponent):
        def render(self) -> dict[str, Any]:
            raise Nasty()

    out = render_component(Broken())
    assert out["type"] == "error" and "Nasty" in out["title"]

    class BadLen(dict):  # type: ignore[type-arg]
        def __len__(self) -> int:
            raise Nasty()

    class BadRepr:
        def __repr__(self) -> str:
            raise Nasty()

    from grange.cards.preview import preview

    assert "preview failed: Nasty" in preview(BadLen())["repr"]
    assert "Nasty" in render_component(Artifact(BadRepr(), compressed=False))["repr"]
    html = render_html(doc_of({"type": "table", "rows": [[{"type": "markdown", "text": 1}]]}))
    assert "<html" in html


def test_a_component_that_raises_becomes_an_error() -> None:
    class Broken(CardComponent):
        def render(self) -> dict[str, Any]:
            raise ZeroDivisionError("oops")

    out = render_component(Broken())
    assert (
        out["type"] == "error" and "Broken.render() failed: ZeroDivisionError: oops" in out["title"]
    )

    class NotDict(CardComponent):
        def render(self) -> Any:
            return "text"

    assert "must return a dict" in render_component(NotDict())["title"]
    assert "is not a card component" in render_component(42)["title"]
    # a broken component inside a table is an error cell, the table still renders
    out = Table([[Broken(), 1]]).render()
    assert out["rows"][0][0]["type"] == "error" and out["rows"][0][1] == 1


def test_every_component_renders_json() -> None:
    comps = [
        Markdown("x"),
        Table([[1]]),
        Image(PNG),
        Artifact(1),
        VegaChart({"mark": "point"}),
        ProgressBar(),
        ValueBox(value=1),
        PythonCode(code_string="x"),
        JSONViewer(1),
        YAMLViewer(1),
        Error(ValueError()),
    ]
    for comp in comps:
        json.dumps(render_component(comp))


def test_components_without_update_raise_not_implemented_naming_them() -> None:
    from grange.cards import Error, PythonCode

    for component in (PythonCode(code_string="x = 1"), Error(ValueError("boom"))):
        with pytest.raises(NotImplementedError, match=type(component).__name__):
            component.update("new")
