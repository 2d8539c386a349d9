"""Reading a stored artifact for a preview without running any code from the store.

An artifact is a pickle (see :mod:`grange.datastore.serialize`), and unpickling
calls whatever function the pickle names: anyone who can write to the store
could run code on the host of ``grange ui``. So the UI never unpickles with
:func:`pickle.loads`: :func:`load_for_preview` uses an unpickler whose
``find_class`` answers only an allow-list of harmless types and reconstruction
helpers (builtin containers and scalars, ``datetime``, ``decimal``, ``uuid``,
``fractions``, ``collections``, NumPy arrays, dtypes and scalars, pandas
frames, series, indexes and the internals their pickles name). Any other name
raises :class:`NotPreviewable`, and the preview says so instead.

The size is capped before anything is inflated: the stored blob, and the
pickle stream once decompressed (read with a limit, whatever the header says),
are each at most ``limit`` bytes.
"""

from __future__ import annotations

import io
import pickle
import zlib
from typing import Any

from grange.datastore.serialize import _ENTRY, _FIXED, FLAG_ZLIB, MAGIC, VERSION

#: (module, name) pairs a preview may reconstruct. Old and new module names of
#: NumPy (``numpy.core`` / ``numpy._core``) and pandas (``pandas.core.frame`` /
#: ``pandas``) are both listed: the pickle names whichever wrote it.
_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    [
        ("builtins", n)
        for n in (
            "bool",
            "bytearray",
            "bytes",
            "complex",
            "dict",
            "float",
            "frozenset",
            "int",
            "list",
            "object",
            "range",
            "set",
            "slice",
            "str",
            "tuple",
        )
    ]
    + [("datetime", n) for n in ("date", "datetime", "time", "timedelta", "timezone")]
    + [("decimal", "Decimal"), ("uuid", "UUID"), ("fractions", "Fraction")]
    + [("zoneinfo", "ZoneInfo"), ("zoneinfo._zoneinfo", "ZoneInfo")]
    + [("collections", n) for n in ("OrderedDict", "defaultdict", "deque", "Counter")]
    + [("numpy", "ndarray"), ("numpy", "dtype")]
    + [
        (f"numpy.{core}.{mod}", n)
        for core in ("core", "_core")
        for mod, n in (
            ("multiarray", "_reconstruct"),
            ("multiarray", "scalar"),
            ("numeric", "_frombuffer"),
        )
    ]
    + [
        ("pandas", n)
        for n in (
            "DataFrame",
            "Series",
            "Index",
            "RangeIndex",
            "MultiIndex",
            "DatetimeIndex",
            "TimedeltaIndex",
            "PeriodIndex",
            "CategoricalIndex",
            "IntervalIndex",
            "Categorical",
            "CategoricalDtype",
            "DatetimeTZDtype",
            "PeriodDtype",
            "IntervalDtype",
            "Int8Dtype",
            "Int16Dtype",
            "Int32Dtype",
            "Int64Dtype",
            "UInt8Dtype",
            "UInt16Dtype",
            "UInt32Dtype",
            "UInt64Dtype",
            "Float32Dtype",
            "Float64Dtype",
            "BooleanDtype",
            "StringDtype",
            "Interval",
            "Period",
            "Timestamp",
            "Timedelta",
            "NA",
            "NaT",
        )
    ]
    + [
        ("pandas.arrays", n)
        for n in (
            "DatetimeArray",
            "TimedeltaArray",
            "PeriodArray",
            "IntegerArray",
            "FloatingArray",
            "BooleanArray",
            "StringArray",
            "IntervalArray",
            "Categorical",
        )
    ]
    + [
        ("pandas.core.frame", "DataFrame"),
        ("pandas.core.series", "Series"),
        ("pandas.core.indexes.base", "Index"),
        ("pandas.core.indexes.base", "_new_Index"),
        ("pandas.core.indexes.range", "RangeIndex"),
        ("pandas.core.indexes.multi", "MultiIndex"),
        ("pandas.core.indexes.datetimes", "DatetimeIndex"),
        ("pandas.core.indexes.datetimes", "_new_DatetimeIndex"),
        ("pandas.core.indexes.numeric", "Int64Index"),
        ("pandas.core.indexes.numeric", "Float64Index"),
        ("pandas.core.internals.managers", "BlockManager"),
        ("pandas.core.internals.managers", "SingleBlockManager"),
        ("pandas.core.internals.blocks", "new_block"),
        ("pandas.core.arrays.categorical", "Categorical"),
        ("pandas.core.arrays.datetimes", "DatetimeArray"),
        ("pandas.core.arrays.timedeltas", "TimedeltaArray"),
        ("pandas.core.arrays.integer", "IntegerArray"),
        ("pandas.core.arrays.string_", "StringArray"),
        ("pandas.core.dtypes.dtypes", "CategoricalDtype"),
        ("pandas.core.dtypes.dtypes", "DatetimeTZDtype"),
        ("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked"),
        ("pandas._libs.internals", "_unpickle_block"),
        ("pandas._libs.tslibs.nattype", "_nat_unpickle"),
        ("pandas._libs.tslibs.timedeltas", "_timedelta_unpickle"),
        ("pandas._libs.tslibs.timestamps", "_unpickle_timestamp"),
        ("pandas._libs.missing", "NA"),
        ("pytz", "_p"),
        ("pytz", "_UTC"),
    ]
)
#: Attributes the pickle may read with ``getattr`` (a classmethod pickled by
#: protocol 4+ is ``getattr(cls, name)``): only these, on these classes.
_GETATTR = {("zoneinfo", "ZoneInfo", "_unpickle"), ("zoneinfo._zoneinfo", "ZoneInfo", "_unpickle")}
_OFFSETS = ("pandas._libs.tslibs.offsets", "pandas.tseries.offsets")


class NotPreviewable(Exception):
    """The artifact names something the UI does not reconstruct (or is too large)."""


def _safe_getattr(obj: Any, name: str) -> Any:
    key = (getattr(obj, "__module__", None), getattr(obj, "__qualname__", None), name)
    if not isinstance(obj, type) or key not in _GETATTR:
        raise NotPreviewable("getattr")
    return getattr(obj, name)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if module == "builtins" and name == "getattr":
            return _safe_getattr
        if module in _OFFSETS and name.isidentifier() and not name.startswith("_"):
            found = super().find_class(module, name)
            base = super().find_class("pandas._libs.tslibs.offsets", "BaseOffset")
            if isinstance(found, type) and issubclass(found, base):
                return found
        raise NotPreviewable(f"{module}.{name}")


def load_for_preview(blob: bytes, limit: int) -> Any:
    """The value stored in ``blob`` (one serialized artifact), reconstructed from the
    allow-list only; :class:`NotPreviewable` for anything else or anything over
    ``limit`` bytes (stored, or its pickle stream once decompressed)."""
    view = memoryview(blob)
    if view.nbytes > limit:
        raise NotPreviewable("too large")
    if view.nbytes < _FIXED.size:
        raise NotPreviewable("truncated")
    magic, version, flags, _, count, header_size, stream_len, _raw = _FIXED.unpack_from(view)
    if magic != MAGIC or version != VERSION or count > view.nbytes // _ENTRY.size:
        raise NotPreviewable("unknown format")
    buffers = []
    for i in range(count):
        offset, length = _ENTRY.unpack_from(view, _FIXED.size + i * _ENTRY.size)
        buffers.append(pickle.PickleBuffer(view[offset : offset + length]))
    stream = bytes(view[header_size : header_size + stream_len])
    if flags & FLAG_ZLIB:
        stream = inflate(stream, limit)
    return _Unpickler(io.BytesIO(stream), buffers=buffers).load()


def inflate(data: bytes, limit: int) -> bytes:
    """``data`` decompressed, refusing to make more than ``limit`` bytes (the size a
    header records is not trusted: it is read, not believed)."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise NotPreviewable("too large once decompressed")
    return out
