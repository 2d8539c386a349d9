"""A preview never runs code from the store: the allow-list unpickler of grange ui."""

from __future__ import annotations

import functools
import operator
import os
import pickle
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from grange.datastore import serialize
from grange.ui.safe_load import NotPreviewable, load_for_preview

SERIALIZE = sys.modules["grange.datastore.serialize"]
LIMIT = 64 * 1024 * 1024


def blob(value: object) -> bytes:
    return b"".join(bytes(c) for c in serialize(value).chunks)


class Reduce:
    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> Any:
        return self.func, self.args


class SetState:
    """Its __setstate__ would write the file: the class itself is never reconstructed."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __setstate__(self, state: dict[str, str]) -> None:
        Path(state["path"]).write_text("ran")


class ReduceEx:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce_ex__(self, protocol: Any) -> Any:
        return os.system, (f"touch {self.path}",)


def hostile(marker: Path) -> list[object]:
    cmd = f"touch {marker}"
    npy = marker.parent / "x.npy"
    return [
        Reduce(os.system, cmd),
        ReduceEx(str(marker)),
        SetState(str(marker)),
        Reduce(eval, f"open({str(marker)!r}, 'w')"),
        Reduce(getattr, Reduce(__import__, "os"), "system"),
        Reduce(functools.partial(os.system, cmd)),
        Reduce(operator.attrgetter("system"), Reduce(__import__, "os")),
        Reduce(np.load, str(npy)),
        Reduce(pd.read_pickle, str(npy)),
        [1, Reduce(os.system, cmd)],  # inside a container
        np.array([1, Reduce(os.system, cmd)], dtype=object),  # inside an object array
        pd.DataFrame({"a": [Reduce(os.system, cmd)]}),  # inside an object column
    ]


@pytest.mark.parametrize("index", range(12))
def test_no_pickle_runs_code(tmp_path: Path, index: int) -> None:
    marker = tmp_path / "ran"
    value = hostile(marker)[index]
    data = blob(value)
    with pytest.raises(NotPreviewable):
        load_for_preview(data, LIMIT)
    assert not marker.exists()


def _as_blob(stream: bytes) -> bytes:
    header = SERIALIZE._FIXED.pack(SERIALIZE.MAGIC, 1, 0, 0, 0, 32, len(stream), len(stream))
    return header + stream


def test_a_getattr_on_anything_but_the_allowed_pairs_is_refused(tmp_path: Path) -> None:
    import datetime

    with pytest.raises(NotPreviewable):
        load_for_preview(blob(Reduce(getattr, datetime.datetime, "now")), LIMIT)


def test_frames_arrays_and_plain_values_still_load() -> None:
    import datetime
    import zoneinfo

    df = pd.DataFrame(
        {
            "i": [1, 2, 3],
            "f": [1.5, 2.0, 3.0],
            "s": ["a", "b", "c"],
            "o": [1, "x", None],
            "c": pd.Categorical(["a", "b", "a"]),
            "t": pd.date_range("2020", periods=3, tz="Europe/Paris"),
        }
    )
    multi = pd.DataFrame({"v": range(4)}, index=pd.MultiIndex.from_product([["a", "b"], [1, 2]]))
    values: list[Any] = [
        df,
        multi,
        pd.Series(range(5)),
        pd.RangeIndex(7),
        np.arange(100_000, dtype="f8").reshape(1000, 100),  # out-of-band buffer
        np.array([1, "a", None], dtype=object),
        {"a": [1, (2, 3)], "b": {1}, "c": b"x", "d": 1j, "e": datetime.date(2020, 1, 2)},
        datetime.datetime(2020, 1, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
    ]
    for value in values:
        got = load_for_preview(blob(value), LIMIT)
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(got, value)
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(got, value)
        elif isinstance(value, (pd.Series, pd.Index)):
            assert list(got) == list(value)
        else:
            assert got == value


def test_the_decompressed_size_is_capped_whatever_the_header_says() -> None:
    stream = pickle.dumps(b"\0" * (4 * 1024 * 1024), protocol=5)
    packed = zlib.compress(stream, 1)
    header = SERIALIZE._FIXED.pack(SERIALIZE.MAGIC, 1, 1, 0, 0, 32, len(packed), 10)
    data = header + packed
    assert len(data) < 64 * 1024
    with pytest.raises(NotPreviewable, match="too large"):
        load_for_preview(data, 1024 * 1024)
    assert load_for_preview(data, 8 * 1024 * 1024) == b"\0" * (4 * 1024 * 1024)
