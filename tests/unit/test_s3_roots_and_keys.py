"""``grange.S3`` without a server: roots, keys, ranges, and what comes back."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from grange import S3, S3GetObject, S3Object
from grange.current import current
from grange.datatools.s3 import MetaflowS3NotFound, RangeInfo, S3Error, S3NotFound, S3URLError
from grange.datatools.s3.locations import byte_range


@pytest.fixture
def in_a_step(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    current._bind(flow_name="TrainFlow", run_id="42", step_name="start", task_id="1")
    yield
    current._unbind()


def test_roots_from_each_constructor_form() -> None:
    assert S3(s3root="s3://b/p/q/").s3root == "s3://b/p/q"
    assert S3(bucket="b", prefix="/p/").s3root == "s3://b/p"
    assert S3(bucket="b").s3root == "s3://b"
    assert S3().s3root is None
    with pytest.raises(S3URLError, match="not an s3:// URL"):
        S3(s3root="/local/folder")
    with pytest.raises(S3URLError, match="either s3root= or bucket="):
        S3(s3root="s3://b/p", bucket="c")
    with pytest.raises(S3URLError, match="needs a bucket"):
        S3(prefix="p")


def test_run_self_uses_a_folder_of_the_run_in_its_s3_datastore(
    in_a_step: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRANGE_DATATOOLS_S3ROOT", raising=False)
    monkeypatch.setenv("GRANGE_DATASTORE_ROOT", "s3://team/grange")
    flow = object()  # the step's self
    assert S3(run=flow).s3root == "s3://team/grange/data-s3/TrainFlow/42"
    assert S3(run=flow, bucket="other").s3root == "s3://other/grange/data-s3/TrainFlow/42"
    assert S3(run=flow, prefix="mine").s3root == "s3://team/mine/TrainFlow/42"
    monkeypatch.setenv("GRANGE_DATATOOLS_S3ROOT", "s3://data/tools")
    assert S3(run=flow).s3root == "s3://data/tools/TrainFlow/42"


def test_run_self_with_a_local_datastore_says_to_use_s3(
    in_a_step: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GRANGE_DATATOOLS_S3ROOT", raising=False)
    monkeypatch.setenv("GRANGE_DATASTORE_ROOT", str(tmp_path))
    with pytest.raises(S3URLError, match="local datastore") as err:
        S3(run=object())
    assert "--datastore-root s3://" in str(err.value)


def test_run_outside_a_flow_takes_a_client_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRANGE_DATATOOLS_S3ROOT", raising=False)
    run = types.SimpleNamespace(
        pathspec="TrainFlow/7", _stores=types.SimpleNamespace(root="s3://team/ds")
    )
    assert S3(run=run).s3root == "s3://team/ds/data-s3/TrainFlow/7"
    task = types.SimpleNamespace(pathspec="TrainFlow/7/start/1", _stores=run._stores)
    with pytest.raises(S3URLError, match="takes a Run"):
        S3(run=task)
    with pytest.raises(S3URLError, match="inside a running step"):
        S3(run=object())


def test_keys_need_a_root_or_whole_urls(in_a_step: None) -> None:
    with pytest.raises(S3URLError, match="no root") as err:
        S3().get("data.csv")
    assert "S3(run=self)" in str(err.value)


def test_byte_ranges_as_obstore_options() -> None:
    assert byte_range("k") is None and byte_range(S3GetObject("k")) is None
    assert byte_range(S3GetObject("k", 5, 10)) == (5, 15)
    assert byte_range(S3GetObject("k", 5)) == {"offset": 5}
    assert byte_range(S3GetObject("k", None, 3)) == (0, 3)
    assert byte_range(S3GetObject("k", 9, -3)) == {"suffix": 3}
    with pytest.raises(S3Error, match="negative"):
        byte_range(S3GetObject("k", -1, 2))


def test_objects_compute_their_key_from_the_prefix() -> None:
    obj = S3Object("s3://b/root", "s3://b/root/a/b.txt", size=3)
    assert (obj.key, obj.prefix, obj.exists, obj.downloaded) == (
        "a/b.txt",
        "s3://b/root",
        True,
        False,
    )
    folder = S3Object("s3://b/root/a", "s3://b/root/a/sub/")
    assert (folder.key, folder.exists) == ("sub", False)
    whole = S3Object(None, "s3://b/x")
    assert (whole.key, whole.prefix, repr(whole)) == (
        "s3://b/x",
        None,
        "<S3Object s3://b/x (no object)>",
    )
    meta = S3Object(None, "s3://b/x", size=1, metadata={"metaflow-user-attributes": '{"a": 1}'})
    assert meta.metadata == {"a": 1} and meta.has_info
    assert RangeInfo(10) == (10, 0, -1)


def test_errors_carry_metaflow_names_and_options_are_checked() -> None:
    assert MetaflowS3NotFound is S3NotFound and issubclass(S3NotFound, S3Error)
    with pytest.raises(S3Error, match="encryption"):
        S3(encryption="aws:kms")
    with pytest.raises(S3Error, match="concurrency"):
        S3(concurrency=0)


def test_import_grange_loads_neither_s3_nor_obstore() -> None:
    import subprocess

    code = (
        "import sys, grange; print(sorted({'grange.datatools', 'obstore'} & set(sys.modules)));"
        "from grange import S3; print('obstore' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "False"]


def test_a_single_key_where_a_list_is_expected_is_refused() -> None:
    s3 = S3(s3root="s3://b/p")
    for call in (s3.get_many, s3.list_paths, s3.info_many, s3.put_many, s3.get_recursive):
        with pytest.raises(S3URLError, match="takes a list of keys"):
            call("data.csv")  # type: ignore[operator]


def test_a_tmproot_that_cannot_hold_downloads_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "not-there"
    with pytest.raises(S3Error, match="cannot create a folder for downloads") as err:
        S3(s3root="s3://b/p", tmproot=str(missing)).get("k")
    assert str(missing) in str(err.value) and "tmproot" in str(err.value)


@pytest.mark.parametrize("name", ["role", "session_vars", "client_params"])
def test_metaflows_connection_arguments_are_refused_clearly(name: str) -> None:
    from grange import S3
    from grange.datatools.s3 import S3Error

    with pytest.raises(S3Error) as info:
        S3(**{name: "x"})
    assert f"S3({name}=...) is not supported" in str(info.value)
