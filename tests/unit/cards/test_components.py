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
    with pytest.raises(TypeError, match=r"Markdown\(text=...\) must be a str"):
        Markdown(3)  # type: ignore[arg-type]


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


def test_table_errors_name_the_argument() -> None:
    with pytest.raises(TypeError, match=r"Table\(data=...\) must be a list of rows"):
        Table(data=[1, 2])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"Table\(headers=...\)"):
        Table(headers="ab")  # type: ignore[arg-type]
    with pytest.warns(UserWarning, match="Table has no update"):
        Table().update([[1]])


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
    with pytest.raises(TypeError, match="needs a pandas DataFrame"):
        Table.from_dataframe([1, 2])


def test_image_sniffs_bytes_and_base64() -> None:
    out = Image(PNG, label="dot").render()
    assert out["src"].startswith("data:image/png;base64,") and out["label"] == "dot"
    assert Image(base64.b64encode(PNG).decode()).render()["src"] == out["src"]
    assert Image(b"\xff\xd8\xff\xe0rest").render()["src"].startswith("data:image/jpeg;")
    with pytest.raises(ValueError, match="not a PNG, JPEG"):
        Image(b"hello")
    with pytest.raises(ValueError, match="not base64"):
        Image("not base64!")
    with pytest.raises(TypeError, match=r"Image\(src=...\) must be"):
        Image(3)  # type: ignore[arg-type]
    assert Image().render()["type"] == "error"


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
    with pytest.raises(TypeError, match="needs a matplotlib Figure"):
        Image.from_matplotlib("fig")
    with pytest.raises(TypeError, match="needs a PIL image"):
        Image.from_pil_image("img")


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
    with pytest.raises(TypeError, match=r"VegaChart\(spec=...\) must be a Vega-Lite spec"):
        VegaChart("bar")  # type: ignore[arg-type]


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
    with pytest.raises(ValueError, match=r"ProgressBar\(max=...\) must be above 0"):
        ProgressBar(max=0)
    with pytest.raises(TypeError, match=r"ProgressBar.update\(new_value=...\) must be a number"):
        bar.update("3")  # type: ignore[arg-type]


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
    with pytest.raises(ValueError, match="needs code_func"):
        PythonCode()


def test_json_and_yaml_viewers() -> None:
    data: dict[str, Any] = {"a": [1, 2], "when": object()}
    j = JSONViewer(data, title="cfg").render()
    assert j["type"] == "json" and '"a": [' in j["text"] and "object object" in j["text"]
    y = YAMLViewer({"a": [1, 2]}, max_height="300px").render()
    assert y["type"] == "yaml" and y["text"] == "a:\n- 1\n- 2\n" and y["max_height"] == "300px"
    with pytest.raises(ValueError, match="must be a CSS length"):
        YAMLViewer({}, max_height="1px;background:url(x)")


def test_error_keeps_the_traceback() -> None:
    try:
        raise ValueError("bad thing")
    except ValueError as exc:
        out = Error(exc, "It failed").render()
    assert out["type"] == "error" and out["title"] == "It failed"
    assert "Traceback" in out["text"] and "ValueError: bad thing" in out["text"]
    assert Error(KeyError("k")).render()["text"] == "KeyError('k')"


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
