"""The bytes of a code package: deterministic, complete, bounded."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

import grange
from grange.environments import archive
from grange.environments.package import build_package
from grange.exceptions import CommandError

FLOW = "from grange import FlowSpec\n"


def make_project(root: Path) -> Path:
    (root / "lib").mkdir(parents=True)
    (root / "flow.py").write_text(FLOW)
    (root / "lib" / "model.py").write_text("W = 2\n")
    (root / "run.sh.py").write_text("#!/usr/bin/env python\n")
    os.chmod(root / "run.sh.py", 0o755)
    return root / "flow.py"


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder and no member kept in memory."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GRANGE_CACHE_DIR", str(cache))
    monkeypatch.setattr(archive, "_members", {})
    return cache


def test_same_files_same_bytes_whatever_mtimes_and_modes(
    tmp_path: Path, fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = build_package(str(make_project(tmp_path / "a")), "F")
    flow = make_project(tmp_path / "b")  # a copy made later: other mtimes, inodes
    for path in (flow, flow.parent / "lib" / "model.py"):
        os.utime(path, (1_000_000, 1_000_000))
        os.chmod(path, 0o664)
    monkeypatch.setattr(archive, "_members", {})
    second = build_package(str(flow), "F")
    assert second.data == first.data
    assert second.sha == first.sha


def test_a_changed_file_changes_the_package_at_once(tmp_path: Path, fresh_cache: Path) -> None:
    flow = make_project(tmp_path / "p")
    before = build_package(str(flow), "F")
    (flow.parent / "lib" / "model.py").write_text("W = 3\n")  # same size, new bytes
    after = build_package(str(flow), "F")
    assert after.sha != before.sha
    with tarfile.open(fileobj=io.BytesIO(after.data)) as tar:
        member = tar.extractfile("lib/model.py")
        assert member is not None and member.read() == b"W = 3\n"


def test_entries_carry_no_time_owner_or_umask(tmp_path: Path, fresh_cache: Path) -> None:
    data = build_package(str(make_project(tmp_path / "p")), "F").data
    assert data[4:8] == b"\0\0\0\0"  # gzip mtime of the first member
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
    assert all(m.isfile() for m in members)  # no directory entries
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    modes = {m.name: m.mode for m in members}
    assert modes["flow.py"] == 0o644 and modes["run.sh.py"] == 0o755


def test_layout_info_flow_files_then_grange(tmp_path: Path, fresh_cache: Path) -> None:
    package = build_package(str(make_project(tmp_path / "p")), "TrainFlow", [".txt"])
    with tarfile.open(fileobj=io.BytesIO(package.data)) as tar:
        names = tar.getnames()
        info_file = tar.extractfile("INFO.json")
        assert info_file is not None
        info = json.loads(info_file.read())
    assert names[:4] == ["INFO.json", "flow.py", "lib/model.py", "run.sh.py"]
    assert "grange/__init__.py" in names and "grange/py.typed" in names
    assert "grange/environments/bootstrap.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert info == {
        "format": 1,
        "flow_name": "TrainFlow",
        "flow_file": "flow.py",
        "grange_version": grange.__version__,
        "python_version": info["python_version"],
        "suffixes": [".py", ".txt"],
    }
    assert gzip.decompress(package.data)  # one gzip stream for gunzip, too


class Later:
    """``time`` as seen a minute from now: every file has settled."""

    @staticmethod
    def time() -> float:
        import time

        return time.time() + 60


def test_grange_part_is_built_once_and_checked_when_read_back(
    tmp_path: Path, fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, "time", Later)
    flow = str(make_project(tmp_path / "p"))
    first = build_package(flow, "F").data
    kept = sorted((fresh_cache / "code").glob("grange-*.gz"))
    assert len(kept) == 1
    kept[0].write_bytes(kept[0].read_bytes()[:-10])  # damaged in the cache
    monkeypatch.setattr(archive, "_members", {})
    assert build_package(flow, "F").data == first  # rebuilt, not trusted
    monkeypatch.setattr(archive, "_members", {})
    assert build_package(flow, "F").data == first  # and kept again


def test_settled_parts_come_from_the_cache_fresh_ones_never(
    tmp_path: Path, fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = str(make_project(tmp_path / "p"))
    built: list[int] = []
    real = archive.gzip_member
    monkeypatch.setattr(archive, "gzip_member", lambda data: built.append(1) or real(data))
    first = build_package(flow, "F").data  # just written: packed, not kept
    assert not list((fresh_cache / "code").glob("flow-*.gz"))
    monkeypatch.setattr(archive, "time", Later)
    monkeypatch.setattr(archive, "_members", {})
    built.clear()
    assert build_package(flow, "F").data == first
    assert built  # settled: packed once more, and kept
    monkeypatch.setattr(archive, "_members", {})
    built.clear()
    assert build_package(flow, "F").data == first
    assert not built  # read back from the cache folder


def test_an_unwritable_cache_is_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("GRANGE_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(archive, "_members", {})
    assert build_package(str(make_project(tmp_path / "p")), "F").size > 0


def test_over_the_size_limit_names_the_biggest_files(
    tmp_path: Path, fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = make_project(tmp_path / "p")
    (flow.parent / "weights.py").write_bytes(b"#" * 300_000)
    monkeypatch.setenv("GRANGE_PACKAGE_MAX_MB", "0.25")
    with pytest.raises(CommandError, match=r"over the limit of 0.25 MB; the biggest: weights.py"):
        build_package(str(flow), "F")
    monkeypatch.setenv("GRANGE_PACKAGE_MAX_MB", "lots")
    with pytest.raises(CommandError, match="not a number"):
        build_package(str(flow), "F")


def test_grange_data_files_are_packed_compiled_ones_not(
    tmp_path: Path, fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "site" / "grange"
    (fake / "environments").mkdir(parents=True)
    (fake / "environments" / "archive.py").write_text("")  # where archive.py finds grange
    (fake / "schema.json").write_text("{}")
    (fake / "mod.pyc").write_text("")
    (fake / "__pycache__").mkdir()
    (fake / "__pycache__" / "mod.cpython-311.pyc").write_text("")
    monkeypatch.setattr(archive, "__file__", str(fake / "environments" / "archive.py"))
    names = [name for name, _, _ in archive.grange_files()[0]]
    assert names == ["grange/environments/archive.py", "grange/schema.json"]
