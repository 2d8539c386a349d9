"""Typed previews of artifact values: a glimpse, never the whole value.

:func:`preview` gives a component dict: a DataFrame's shape, dtypes and first
rows (``dataframe``), an array's shape, dtype and statistics (``array``), or a
truncated repr (``artifact``). pandas and NumPy are imported only when the
value is one of theirs.

An array's statistics are computed in chunks of :data:`STATS_CHUNK` values,
so that a preview never copies the array: its memory stays a few MB whatever
the array's size (the time is one pass over it, about 30 ms per 10 million
values). A DataFrame preview calls the ``repr`` of at most :data:`MAX_REPRS`
cells whose type is not Python's, pandas' or NumPy's own (a user's classes,
whose ``__repr__`` may be slow); the others are shown as ``…``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from grange.cards._limits import (
    PREVIEW_COLUMNS,
    PREVIEW_ROWS,
    cut,
    describe_exception,
    safe_repr,
    type_name,
)

_ARRAY_VALUES = 10
#: Values of an array looked at at once for its statistics.
STATS_CHUNK = 1 << 18
#: Cells of a DataFrame preview shown by their repr (objects, not plain values).
MAX_REPRS = 100


def preview(value: Any) -> dict[str, Any]:
    """A component dict previewing ``value``; never raises, never holds the whole value."""
    try:
        return _preview(value)
    except Exception as exc:  # a value's own methods may raise anything
        return _artifact(value, f"<preview failed: {describe_exception(exc, 300)}>")


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


class _Reprs:
    """How many more cells a preview may show by their (user-defined) repr."""

    def __init__(self, left: int) -> None:
        self.left = left


def _plain(value: Any, reprs: _Reprs | None = None) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return cut(value, 200) if isinstance(value, str) else value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if type(value).__module__ == "numpy":
        import numpy as np

        # .item() of a longdouble is a longdouble: convert by kind, not by .item()
        try:
            if isinstance(value, np.bool_):
                return bool(value)
            if isinstance(value, np.integer):
                return int(value)
            if isinstance(value, np.floating):
                return _plain(float(value))
        except (OverflowError, ValueError, TypeError):
            pass
    if reprs is not None and not _known(value):
        if reprs.left <= 0:
            return "…"
        reprs.left -= 1
    return safe_repr(value, limit=200)


_KNOWN_MODULES = ("builtins", "datetime", "decimal", "fractions", "uuid", "pathlib")


def _known(value: Any) -> bool:
    """Whether ``value``'s repr is a library's own (quick), not a user's ``__repr__``."""
    module = str(getattr(type(value), "__module__", "") or "")
    root = module.split(".", 1)[0]
    return root in ("pandas", "numpy") or module in _KNOWN_MODULES


def _dataframe(frame: Any, *, series: bool = False) -> dict[str, Any]:
    rows, cols = frame.shape
    shown = frame.iloc[:PREVIEW_ROWS, :PREVIEW_COLUMNS]
    headers = [cut(str(c), 200) for c in shown.columns]
    index = [cut(str(i), 200) for i in shown.index]
    reprs = _Reprs(MAX_REPRS)
    data = [[_plain(v, reprs) for v in row] for row in shown.itertuples(index=False, name=None)]
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
    reprs = _Reprs(_ARRAY_VALUES)
    out["values"] = [_plain(v, reprs) for v in arr.flat[:_ARRAY_VALUES]]  # copies 10 values
    out["more_values"] = max(0, int(arr.size) - _ARRAY_VALUES)
    if arr.size and (
        np.issubdtype(arr.dtype, np.number) and not np.issubdtype(arr.dtype, np.complexfloating)
    ):
        out.update(_stats(arr))
    json.dumps(out)  # a preview is JSON
    return out


def _chunks(arr: Any) -> Any:
    """Views (or copies of at most :data:`STATS_CHUNK` values) that cover ``arr``."""
    if arr.ndim == 0:
        yield arr.reshape(1)
        return
    if arr.flags.c_contiguous or arr.flags.f_contiguous:
        flat = arr.ravel(order="K")  # a view: no copy
        for i in range(0, flat.size, STATS_CHUNK):
            yield flat[i : i + STATS_CHUNK]
        return
    inner = max(1, arr[0].size if arr.shape[0] else 1)
    rows = STATS_CHUNK // inner
    if rows >= 1:
        for i in range(0, arr.shape[0], rows):
            yield arr[i : i + rows].ravel()  # a copy of at most STATS_CHUNK values
    else:
        for i in range(arr.shape[0]):
            yield from _chunks(arr[i])


def _stats(arr: Any) -> dict[str, Any]:
    import numpy as np

    floating = np.issubdtype(arr.dtype, np.floating)
    lo = hi = None
    total, count = 0.0, 0
    with np.errstate(all="ignore"):
        for chunk in _chunks(arr):
            if floating:
                chunk = chunk[np.isfinite(chunk)]
            if not chunk.size:
                continue
            cmin, cmax = chunk.min(), chunk.max()
            lo = cmin if lo is None or cmin < lo else lo
            hi = cmax if hi is None or cmax > hi else hi
            total += float(np.sum(chunk, dtype=np.float64))
            count += int(chunk.size)
    stats: dict[str, Any] = {}
    if count:
        stats = {"min": _plain(lo), "max": _plain(hi), "mean": _plain(total / count)}
    if count != arr.size:
        stats["non_finite"] = int(arr.size - count)
    return {"stats": stats} if stats else {}
