"""Typed previews of artifact values: a glimpse, never the whole value.

:func:`preview` gives a component dict: a DataFrame's shape, dtypes and first
rows (``dataframe``), an array's shape, dtype and statistics (``array``), or a
truncated repr (``artifact``). pandas and NumPy are imported only when the
value is one of theirs.
"""

from __future__ import annotations

import json
import math
from typing import Any

from grange.cards._limits import PREVIEW_COLUMNS, PREVIEW_ROWS, cut, safe_repr, type_name

_ARRAY_VALUES = 10


def preview(value: Any) -> dict[str, Any]:
    """A component dict previewing ``value``; never raises, never holds the whole value."""
    try:
        return _preview(value)
    except Exception as exc:  # a value's own methods may raise anything
        return _artifact(value, f"<preview failed: {type(exc).__name__}: {cut(str(exc), 300)}>")


def _preview(value: Any) -> dict[str, Any]:
    module = getattr(type(value), "__module__", "") or ""
    if module == "pandas" or module.startswith("pandas."):
        name = type(value).__name__
        if name == "DataFrame":
            return _dataframe(value)
        if name == "Series":
            return _dataframe(value.to_frame(), series=True)
    if module == "numpy" and type(value).__name__ == "ndarray":
        return _array(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        size = len(value) if not isinstance(value, memoryview) else value.nbytes
        return _artifact(
            value, f"<{size:,} bytes> " + safe_repr(bytes(value[:64])), summary=f"{size:,} bytes"
        )
    if isinstance(value, str):
        return _artifact(value, safe_repr(value), summary=f"{len(value):,} characters")
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        return _artifact(value, safe_repr(value), summary=f"{len(value):,} items")
    return _artifact(value, safe_repr(value))


def _artifact(value: Any, text: str, summary: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "artifact",
        "name": None,
        "type_name": type_name(value),
        "repr": text,
    }
    if summary is not None:
        out["summary"] = summary
    return out


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return cut(value, 200) if isinstance(value, str) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        try:
            return _plain(item())
        except Exception:
            pass
    return safe_repr(value, limit=200)


def _dataframe(frame: Any, *, series: bool = False) -> dict[str, Any]:
    rows, cols = frame.shape
    shown = frame.iloc[:PREVIEW_ROWS, :PREVIEW_COLUMNS]
    headers = [cut(str(c), 200) for c in shown.columns]
    index = [cut(str(i), 200) for i in shown.index]
    data = [[_plain(v) for v in row] for row in shown.itertuples(index=False, name=None)]
    dtypes = [[cut(str(c), 200), str(t)] for c, t in list(frame.dtypes.items())[:PREVIEW_COLUMNS]]
    return {
        "type": "dataframe",
        "type_name": "pandas.Series" if series else "pandas.DataFrame",
        "shape": [int(rows), int(cols)],
        "dtypes": dtypes,
        "headers": headers,
        "index": index,
        "rows": data,
        "more_rows": max(0, int(rows) - len(data)),
        "more_columns": max(0, int(cols) - len(headers)),
    }


def _array(arr: Any) -> dict[str, Any]:
    import numpy as np

    out: dict[str, Any] = {
        "type": "array",
        "type_name": "numpy.ndarray",
        "shape": [int(n) for n in arr.shape],
        "dtype": str(arr.dtype),
        "size": int(arr.size),
    }
    flat = arr.reshape(-1)
    out["values"] = [_plain(v) for v in flat[:_ARRAY_VALUES]]
    out["more_values"] = max(0, int(arr.size) - _ARRAY_VALUES)
    if arr.size and (
        np.issubdtype(arr.dtype, np.number) and not np.issubdtype(arr.dtype, np.complexfloating)
    ):
        with np.errstate(all="ignore"):
            finite = flat[np.isfinite(flat)] if np.issubdtype(arr.dtype, np.floating) else flat
            if finite.size:
                out["stats"] = {
                    "min": _plain(finite.min()),
                    "max": _plain(finite.max()),
                    "mean": _plain(float(finite.mean(dtype=np.float64))),
                }
            if finite.size != flat.size:
                out.setdefault("stats", {})["non_finite"] = int(flat.size - finite.size)
    json.dumps(out)  # a preview is JSON
    return out
