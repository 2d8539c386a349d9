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


def test_array_stats_do_not_copy_the_array() -> None:
    import tracemalloc

    np = pytest.importorskip("numpy")
    arr = np.random.default_rng(0).random(10_000_000)  # 80 MB
    arr[::7] = np.nan
    arr[3] = np.inf
    strided = np.random.default_rng(1).random((4000, 2500)).T  # not contiguous: 80 MB
    for value in (arr, strided):
        tracemalloc.start()
        try:
            out = preview(value)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < value.nbytes / 8, peak  # a few MB, not a copy
        finite = value[np.isfinite(value)]
        assert out["stats"]["min"] == float(finite.min())
        assert out["stats"]["max"] == float(finite.max())
        assert abs(out["stats"]["mean"] - float(finite.mean())) < 1e-9
        assert out["values"][0] == _plain_first(value)
        assert type(out["stats"]["min"]) is float
    assert preview(arr)["stats"]["non_finite"] == int((~np.isfinite(arr)).sum())
    ints = preview(np.array([[2**62, 2**62], [1, 3]], dtype=np.int64))
    assert ints["stats"]["max"] == 2**62 and ints["stats"]["min"] == 1
    assert preview(np.array([np.nan]))["stats"] == {"non_finite": 1}


def _plain_first(value: Any) -> Any:
    first = float(value.flat[0])
    return first if first == first else "nan"


def test_longdouble_and_odd_numpy_values() -> None:
    np = pytest.importorskip("numpy")
    out = preview(np.array([1.5, 2, 3], dtype=np.longdouble))
    assert out["values"] == [1.5, 2.0, 3.0]
    assert out["stats"] == {"min": 1.5, "max": 3.0, "mean": pytest.approx(6.5 / 3)}
    assert "Recursion" not in json.dumps(out)
    assert preview(np.array([True, False]))["values"] == [True, False]
    from grange.cards import Table

    assert Table([[np.longdouble(2), np.int8(3), np.float32("nan")]]).render()["rows"] == [
        [2.0, 3, "nan"]
    ]


def test_a_dataframe_preview_calls_few_cell_reprs() -> None:
    pd = pytest.importorskip("pandas")
    calls = []

    class Slow:
        def __repr__(self) -> str:
            calls.append(1)
            return "slow"

    from grange.cards.preview import MAX_REPRS

    frame = pd.DataFrame({f"c{i}": [Slow() for _ in range(20)] for i in range(30)})
    out = preview(frame)
    assert len(calls) == MAX_REPRS < 600
    assert out["rows"][0][0] == "slow" and out["rows"][-1][-1] == "…"
    # library values (timestamps, decimals, dicts ...) are always shown
    import datetime
    import decimal

    when = pd.Timestamp("2024-01-02")
    plain = {"t": [when] * 20, "d": [decimal.Decimal("1.5")] * 20, "x": [{"a": 1}] * 20}
    many = pd.DataFrame({f"{k}{i}": v for i in range(10) for k, v in plain.items()})
    many["dt"] = [datetime.date(2024, 1, 2)] * 20
    rows = preview(many)["rows"]
    assert "…" not in {cell for row in rows for cell in row}


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
