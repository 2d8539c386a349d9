"""The pieces of ``spin`` that need no run: the layered spin store, ARTIFACTS sorted."""

from __future__ import annotations

import pytest

from grange.datastore import DatastoreLocation, MemoryBlobStore
from grange.datastore.spin import (
    SpinBlobStore,
    is_data_key,
    read_origin,
    record_origin,
    spin_location,
)
from grange.exceptions import BlobNotFound, CommandError
from grange.runtime.spin.artifacts import sort_overrides

DATA = "F/data/ab/abcdef"
RECORD = "F/1/train/2/0/record.json"


def _stores() -> tuple[MemoryBlobStore, MemoryBlobStore, SpinBlobStore]:
    top, base = MemoryBlobStore(), MemoryBlobStore()
    base.put_bytes(DATA, b"value")
    base.put_bytes(RECORD, b"{}")
    return top, base, SpinBlobStore(top, base)


def test_content_blobs_are_read_through_to_the_original_datastore() -> None:
    _, _, spin = _stores()
    assert is_data_key(DATA) and not is_data_key(RECORD)
    assert spin.exists(DATA) and spin.get_bytes(DATA) == b"value" and spin.size(DATA) == 5
    assert spin.get_range(DATA, 1, 2) == b"al" and bytes(spin.open_buffer(DATA)) == b"value"
    # Anything else, and every listing, is the spin store's alone: its index sees spin runs only.
    assert not spin.exists(RECORD)
    with pytest.raises(BlobNotFound):
        spin.get_bytes(RECORD)
    assert spin.children("") == [] and spin.list("F") == []


def test_writes_go_to_the_spin_store_and_never_to_the_original() -> None:
    top, base, spin = _stores()
    assert spin.put_bytes("F/data/cd/cdef01", b"new")
    spin.append_bytes("F/spin-1/train/2/0/stdout.log", b"out\n")
    assert spin.put_bytes(DATA, b"value") and top.exists(DATA)  # a copy on top, if asked
    assert not spin.delete(RECORD) and base.exists(RECORD)
    assert sorted(base.list("")) == sorted([DATA, RECORD])
    assert spin.children("F") == ["data", "spin-1"]


def test_the_spin_store_knows_its_origin(tmp_path: object) -> None:
    top = MemoryBlobStore()
    assert read_origin(top) is None
    origin = DatastoreLocation("/x/.grange")
    record_origin(top, origin)
    assert read_origin(top) == origin
    assert spin_location(origin) == DatastoreLocation("/x/.grange/.spin")


def _sorted(artifacts: dict[str, object], **kw: object) -> object:
    args: dict[str, object] = {
        "path": "m.py",
        "step": "train",
        "run_id": "1",
        "parents": ("1/start/1",),
        "is_join": False,
        "parameters": ["alpha"],
        "constants": ["SEED"],
    }
    args.update(kw)
    return sort_overrides(artifacts, **args)  # type: ignore[arg-type]


def test_artifacts_go_to_the_parent_or_the_parameters() -> None:
    out = _sorted({"data": [1], "alpha": 2, "start/1": {"x": 3}})
    assert out.parameters == {"alpha": 2}  # type: ignore[attr-defined]
    assert out.parents == {"1/start/1": {"data": [1], "x": 3}}  # type: ignore[attr-defined]
    join = _sorted({"SpinFlow/1/a/2": {"x": 1}}, step="j", parents=("1/a/2", "1/b/3"), is_join=True)
    assert join.parents == {"1/a/2": {"x": 1}}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("artifacts", "kw", "said"),
    [
        ({"SEED": 1}, {}, "'SEED' is a constant of the flow"),
        ({"x": 1}, {"parents": ()}, "the start step reads only the run's parameters (alpha)"),
        ({"x": 1}, {"is_join": True}, "'train' is a join"),
        ({1: 1}, {}, "not an artifact's name"),
        ({"class": 1}, {}, "'class' cannot be an artifact's name"),
        ({"1/start/1": 5}, {}, "for an input task it must be a dict"),
        ({"1/b/1": {}}, {}, "names no input of the step"),
    ],
)
def test_artifacts_that_cannot_be_used_are_said(
    artifacts: dict[str, object], kw: dict[str, object], said: str
) -> None:
    with pytest.raises(CommandError) as err:
        _sorted(artifacts, **kw)
    assert said in err.value.message


def test_output_is_shown_and_logged_up_to_the_limit(capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from grange.runtime.spin.logs import captured_output
    from grange.task.spec import TaskSpec

    spec = TaskSpec(flow="F", run_id="spin-1", step="train", task_id="2")
    logged: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def log(_spec: TaskSpec, stream: str, data: bytes) -> None:
        logged[stream] += data

    with captured_output(log, spec, limit=10):
        print("hello world, this is long")
        print("more")
        print("oops", file=sys.stderr)
    shown = capsys.readouterr()
    assert shown.out == "hello world, this is long\nmore\n" and shown.err == "oops\n"
    assert logged["stdout"].startswith(b"hello worl\n[log truncated at --max-log-size")
    assert b"more" not in logged["stdout"] and logged["stderr"] == b"oops\n"
    with captured_output(None, spec, limit=10):  # --no-persist: nothing logged
        print("quiet")
    assert b"quiet" not in logged["stdout"]
