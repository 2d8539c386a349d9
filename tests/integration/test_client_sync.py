"""The client indexes what the datastore holds and the index lacks, before it answers:
runs that wrote only records, and runs indexed while they ran elsewhere that have ended."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from grange import Flow, Run, Task, default_metadata, default_namespace, metadata, namespace
from grange.datastore import LocalBlobStore
from grange.datastore.runs import write_final
from grange.metastore import MetadataStore, sqlite_url

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
from test_reindex import FLOW, _a_run, _record


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / ".grange"
    blobs = LocalBlobStore(root)
    _a_run(blobs, "1")
    write_final(blobs, FLOW, "1", status="succeeded", at=150.0)
    MetadataStore.from_url(sqlite_url(root))  # an index that knows nothing of it
    namespace(None)
    yield root
    default_namespace()
    default_metadata()


def _reader(root: Path) -> None:
    metadata(f"local@{root}")  # a new process, as far as the client knows


def test_a_flow_read_indexes_its_runs_once(root: Path) -> None:
    _reader(root)
    assert [r.id for r in Flow(FLOW)] == ["1"]
    assert Flow(FLOW).latest_successful_run.id == "1"  # type: ignore[union-attr]
    _a_run(LocalBlobStore(root), "2")  # after this process compared the flow: not seen
    assert [r.id for r in Flow(FLOW).runs()] == ["1"]
    assert Run(f"{FLOW}/2").id == "2"  # asked for by name: found
    _a_run(LocalBlobStore(root), "3")
    assert Task(f"{FLOW}/3/train/2").successful
    _reader(root)
    assert [r.id for r in Flow(FLOW).runs()] == ["3", "2", "1"]


def test_a_run_indexed_while_it_ran_is_brought_up_to_date_when_it_has_ended(root: Path) -> None:
    blobs = LocalBlobStore(root)
    _a_run(blobs, "2", end=False)  # running elsewhere, last seen long ago (the records' times)
    _reader(root)
    run = Run(f"{FLOW}/2")
    assert run.finished and not run.successful  # crashed, as far as the index can tell
    _record(blobs, "2", "end", "3")
    write_final(blobs, FLOW, "2", status="succeeded", at=300.0)
    _reader(root)
    assert Run(f"{FLOW}/2").successful
    assert "end" in [s.id for s in Run(f"{FLOW}/2")]
    _a_run(blobs, "4", end=False)
    _reader(root)
    assert Flow(FLOW).latest_run.id == "4"  # type: ignore[union-attr]
    _record(blobs, "4", "end", "3")
    write_final(blobs, FLOW, "4", status="succeeded", at=400.0)
    _reader(root)
    assert Flow(FLOW).latest_successful_run.id == "4"  # type: ignore[union-attr]
