"""Typed previews: a glimpse of a value, never the whole of it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest

from grange.cards.preview import preview
from grange.cards.render import render_html


def page(comp: dict[str, Any]) -> str:
    return render_html({"version": 1, "type": "blank", "title": "p", "components": [comp]})


def test_large_dataframe_preview_is_small_and_quick() -> None:
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    frame = pd.DataFrame({f"c{i}": np.arange(100_000) * i for i in range(40)})
    frame["text"] = "<script>window.pwned=1</script>"
    started = time.perf_counter()
    out = preview(frame)
    html = page(out)
    elapsed = time.perf_counter() - started
    assert out["type"] == "dataframe" and out["shape"] == [100_000, 41]
    assert len(out["rows"]) == 20 and out["more_rows"] == 99_980 and out["more_columns"] == 11
    assert out["dtypes"][0] == ["c0", "int64"]
    assert len(html) < 60_000 and "99,980 more rows" in html and "<script>window" not in html
    json.dumps(out)
    print(f"100k-row preview + page: {elapsed * 1000:.1f} ms, {len(html)} bytes")


def test_series_preview() -> None:
    pd = pytest.importorskip("pandas")
    out = preview(pd.Series([1, 2, 3], name="s"))
    assert out["type"] == "dataframe" and out["shape"] == [3, 1]


def test_numpy_array_stats() -> None:
    np = pytest.importorskip("numpy")
    arr = np.array([[1.0, np.nan], [3.0, 5.0]])
    out = preview(arr)
    assert out["shape"] == [2, 2] and out["dtype"] == "float64"
    assert out["stats"] == {"min": 1.0, "max": 5.0, "mean": 3.0, "non_finite": 1}
    assert out["values"][:1] == [1.0] and out["values"][1] == "nan"
    big = preview(np.arange(1_000_000))
    assert len(big["values"]) == 10 and big["more_values"] == 999_990
    strings = preview(np.array(["a", "b"]))
    assert "stats" not in strings and strings["values"] == ["a", "b"]
    json.dumps(big)
    assert "shape" in page(big)


def test_scalars_strings_containers_bytes() -> None:
    assert preview(3)["repr"] == "3"
    long = preview("x" * 10_000)
    assert long["summary"] == "10,000 characters" and len(long["repr"]) < 400
    items = preview({i: i for i in range(1000)})
    assert items["summary"] == "1,000 items" and len(items["repr"]) < 500
    blob = preview(b"\x00" * 100_000)
    assert blob["summary"] == "100,000 bytes" and len(blob["repr"]) < 400


def test_anything_else_with_a_failing_repr() -> None:
    class Weird:
        def __repr__(self) -> str:
            raise RuntimeError("boom")

    out = preview(Weird())
    assert out["type"] == "artifact" and out["type_name"].endswith("Weird")


def test_preview_does_not_import_pandas_or_numpy_for_plain_values() -> None:
    code = (
        "import sys; from grange.cards.preview import preview; from grange.cards.render import render_html;"
        "[preview(v) for v in (1, 'x', [1], {'a': 1}, b'x', object())];"
        "render_html({'components': [preview(1)]});"
        "bad = [m for m in ('pandas', 'numpy', 'vl_convert', 'altair') if m in sys.modules];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
